"""Cart abandoned for N hours (the cart_abandoned auto-tag rules, docs/tags.md).

1. The tagging function, on `shop.cart_item_added` of a shop that has such rules, writes one
   watch per distinct delay (`kefu.storage.tags.CartWatch`, due `hours` after the change; a
   PutItem, so the same event again writes the same item).
2. The tagging sweep (functions/tagging_sweep, every 15 minutes) reads, in every shop with such
   rules, the watches due in the last LOOKBACK_BUCKETS quarter-hours (a Query per bucket and
   shard), and for each: if the customer placed no order since the cart change and did not take
   that product out of the cart, the rules' tags go on (source `rule:<rule_id>`). The watch is
   then deleted, so a later sweep does not read it again; tagging is idempotent anyway.

Why not a timer per cart change: SQS delays stop at 15 minutes, and an EventBridge Scheduler
schedule per customer costs an API call per cart change and is not run by the local stack. A
watch costs one write per cart change, and the sweep a few Queries per shop with such rules.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import now_ms
from kefu.storage.orders import ACTIVITY_PREFIX, Activity, Order, customer_key
from kefu.storage.shops import ShopProfile
from kefu.storage.tags import CART_SHARDS, CartWatch
from kefu.tags import assign
from kefu.tags.rules import RuleSet
from kefu.tags.rules_admin import rule_set

log = logging.getLogger("kefu.tags.cart")
HOUR_MS = 3600 * 1000
LOOKBACK_BUCKETS = 8  # two hours: a sweep that failed for less than that loses nothing
WATCH_TTL_S = 24 * 3600


def watch(shop_id: str, customer_id: str, product_id: str | None, at: int, rules: RuleSet) -> int:
    """Write the watches of one cart change; returns how many."""
    hours_list = rules.cart_hours()
    for hours in hours_list:
        due = at + hours * HOUR_MS
        CartWatch(
            CartWatch.partition(shop_id, CartWatch.bucket(due), CartWatch.shard(customer_id)),
            CartWatch.sort_key(customer_id, hours),
            shop_id=shop_id,
            customer_id=customer_id,
            product_id=product_id,
            hours=hours,
            added_at=at,
            due_at=due,
            expires_at=due // 1000 + WATCH_TTL_S,
        ).save()
    return len(hours_list)


def abandoned(w: CartWatch) -> bool:
    """No order placed since the cart change, and the product not taken out of the cart."""
    key = customer_key(w.shop_id, w.customer_id)
    for _ in Order.by_placed.query(key, Order.placed_at >= w.added_at, limit=1):
        return False
    since = Activity.key(int(w.added_at) + 1, "")
    for a in Activity.query(key, Activity.sk.between(since, f"{ACTIVITY_PREFIX}~")):
        if a.type == "cart.item_removed" and w.product_id and a.product_id == w.product_id:
            return False
    return True


def sweep_shop(shop_id: str, now: int) -> dict[str, int]:
    rules = rule_set(shop_id)
    if not rules.cart_hours():
        return {"checked": 0, "tagged": 0}
    checked = tagged = 0
    current = CartWatch.bucket(now)
    for bucket in range(current - LOOKBACK_BUCKETS + 1, current + 1):
        for shard in range(CART_SHARDS):
            for w in CartWatch.query(CartWatch.partition(shop_id, bucket, shard)):
                if w.due_at > now:
                    continue
                checked += 1
                tagged += _settle(w, rules)
                w.delete()
    return {"checked": checked, "tagged": tagged}


def _settle(w: CartWatch, rules: RuleSet) -> int:
    matching = rules.cart_matches(int(w.hours))
    if not matching or not abandoned(w):
        return 0
    try:
        customer = assign.load_customer(w.shop_id, w.customer_id)
    except NotFound:  # gone (erased, merged): nothing to tag
        log.info("cart watch of a missing customer %s", w.customer_id)
        return 0
    added = 0
    for rule in matching:
        try:
            change = assign.apply(customer, add=rule.tag_ids, source=f"rule:{rule.rule_id}")
        except (BadRequest, Conflict) as exc:  # at the tag limit
            log.info("cart rule %s not applied: %s", rule.rule_id, exc.code)
            continue
        customer.tags = cast(Any, change.tags)
        added += len(change.added)
    return 1 if added else 0


def sweep(now: int | None = None) -> dict[str, Any]:
    """Every shop's due cart watches; returns counts to log."""
    now = now if now is not None else now_ms()
    totals = {"shops": 0, "checked": 0, "tagged": 0}
    for shop in ShopProfile.shop_registry.query("shops"):
        got = sweep_shop(shop.shop_id, now)
        totals["shops"] += 1
        totals["checked"] += got["checked"]
        totals["tagged"] += got["tagged"]
    return totals
