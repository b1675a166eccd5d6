"""Application limits: messages per customer, customer logins per shop.

Both are fixed-window counters in the runtime table (storage.runtime.RateCounter): one item per
(limit, subject, window), its window in the key, expiring by TTL. A conditional update that
fails when the count has reached the limit is the whole check, so it costs no read:

- a customer's message: the counter update rides in the message's own TransactWriteItems
  (kefu.conversations.inbound), so intake makes no extra request, a refused message stores
  nothing, and a duplicate (de-duplication condition failed) is never counted. The key is per
  customer: at most `limit` successful writes per 10 s, far under a partition's budget.
- a shop's customer logins: one UpdateItem before the login's real work, spread over a few
  shards when the limit is high so that no key takes more than a few writes per second.

Once a window is known to be full, this instance refuses locally until it ends, so a client
that ignores Retry-After costs no further writes to the same key.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition

from kefu import caches
from kefu.errors import RateLimited
from kefu.storage.runtime import RateCounter
from kefu.storage.shops import ShopProfile

MESSAGE_WINDOW_SECONDS = 10
DEFAULT_MESSAGES_PER_WINDOW = 20
LOGIN_WINDOW_SECONDS = 60
DEFAULT_LOGINS_PER_MINUTE = 1200
# A login counter shard takes at most ~100 logins a minute; 8 shards cap the per-key rate at
# a few writes/s even at a shop's peak.
LOGINS_PER_SHARD = 100
MAX_LOGIN_SHARDS = 8
# Counters live a little past their window (TTL deletion is lazy; the key decides anyway).
_TTL_MARGIN_SECONDS = 60

# counter key -> end of its window (ms): windows this instance has seen full
_full: dict[str, int] = {}
_FULL_MAX = 10_000


@dataclass(frozen=True)
class Window:
    """One fixed window of one limit, for one subject."""

    key: str
    limit: int
    seconds: int
    ends_at_ms: int
    what: str  # for the error message: "messages" | "logins"

    def update(self) -> tuple[RateCounter, list, Condition]:
        """(item, actions, condition) of the counting update, for a transaction or alone."""
        return (
            RateCounter(self.key),
            [
                RateCounter.hits.add(1),
                RateCounter.expires_at.set(self.ends_at_ms // 1000 + _TTL_MARGIN_SECONDS),
            ],
            RateCounter.hits.does_not_exist() | (RateCounter.hits < self.limit),
        )


def _window(shop_id: str, what: str, who: str, limit: int, seconds: int, at_ms: int) -> Window:
    start = at_ms // 1000 // seconds * seconds
    return Window(
        key=RateCounter.key(shop_id, what, who, start),
        limit=limit,
        seconds=seconds,
        ends_at_ms=(start + seconds) * 1000,
        what=what,
    )


def message_limit(shop: ShopProfile) -> int:
    return int(shop.customer_message_limit or DEFAULT_MESSAGES_PER_WINDOW)


def login_limit(shop: ShopProfile) -> int:
    return int(shop.customer_login_limit or DEFAULT_LOGINS_PER_MINUTE)


def message_window(shop: ShopProfile, customer_id: str, at_ms: int) -> Window:
    """The window a customer's message at `at_ms` counts in; refused at once if this instance
    already saw it full."""
    window = _window(
        shop.shop_id,
        "msg",
        customer_id,
        message_limit(shop),
        MESSAGE_WINDOW_SECONDS,
        at_ms,
    )
    check_not_full(window, at_ms)
    return window


def check_not_full(window: Window, now_ms: int) -> None:
    ends = _full.get(window.key)
    if ends is not None and ends > now_ms:
        raise refused(window, now_ms)


def refused(window: Window, now_ms: int, *, shown_limit: int | None = None) -> RateLimited:
    """The 429 for a full window (remembered until the window ends). `shown_limit`: the
    limit to report when the window is one shard of it."""
    if len(_full) >= _FULL_MAX:
        for key in [k for k, ends in _full.items() if ends <= now_ms] or list(_full):
            del _full[key]
    _full[window.key] = window.ends_at_ms
    retry_after = max(1, math.ceil((window.ends_at_ms - now_ms) / 1000))
    limit = shown_limit or window.limit
    if window.what == "msg":
        message = (
            f"too many messages: at most {limit} per {window.seconds} s per customer; "
            f"retry after {retry_after} s (the message was not stored)"
        )
    else:
        message = (
            f"too many logins to this shop: at most {limit} per {window.seconds} s; "
            f"retry after {retry_after} s"
        )
    return RateLimited(message, retry_after=retry_after, limit=limit, window_seconds=window.seconds)


def count_login(shop: ShopProfile, *, now_ms: int | None = None) -> None:
    """Count one customer login for the shop, or raise RateLimited (429) when the minute's
    budget is spent. One UpdateItem on one of the shop's shards (chosen at random)."""
    at = now_ms if now_ms is not None else int(time.time() * 1000)
    limit = login_limit(shop)
    shards = max(1, min(MAX_LOGIN_SHARDS, limit // LOGINS_PER_SHARD))
    shard = random.randrange(shards)
    window = _window(
        shop.shop_id,
        "login",
        str(shard),
        math.ceil(limit / shards),
        LOGIN_WINDOW_SECONDS,
        at,
    )
    ends = _full.get(window.key)
    if ends is not None and ends > at:
        raise refused(window, at, shown_limit=limit)
    item, actions, condition = window.update()
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise refused(window, at, shown_limit=limit) from None
        raise


def clear_cache() -> None:
    _full.clear()


caches.register("kefu.limits", clear_cache)
