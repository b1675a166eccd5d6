"""Store a message once per client request: the one idempotency rule for messages, customers'
(kefu's client API, WeChat's pushes) and agents' replies alike.

The request's key (a client_message_id, WeChat's MsgId...) becomes a TTL'd item in the runtime
table, put with `attribute_not_exists` as the FIRST put of the transaction that stores the
message. A repeat fails that condition, so nothing is written twice, and the item as it was
(ALL_OLD) names the first copy, which the caller answers with (200, the same message id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError

from kefu.storage.runtime import InboundDedupe
from kefu.storage.tx import condition_failed, old_item

DEDUPE_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class FirstCopy:
    conversation_id: str
    message_id: str
    msg_key: str


def save_once(
    tx: Any,
    shop_id: str,
    scope: str,
    key: str,
    *,
    conversation_id: str,
    message_id: str,
    msg_key: str,
    at_ms: int,
) -> None:
    """Add the request's key to `tx`; call before any other put (it must be item 0)."""
    tx.save(
        InboundDedupe(
            InboundDedupe.key(shop_id, scope, key),
            expires_at=at_ms // 1000 + DEDUPE_TTL_SECONDS,
            conversation_id=conversation_id,
            message_id=message_id,
            msg_key=msg_key,
        ),
        condition=InboundDedupe.pk.does_not_exist(),
        return_values="ALL_OLD",
    )


def first_copy(exc: TransactWriteError) -> FirstCopy | None:
    """The first copy, when the transaction failed because the request was seen before."""
    if not condition_failed(exc, 0):
        return None
    raw = old_item(exc, 0) or {}
    return FirstCopy(
        conversation_id=raw.get("conversation_id", {}).get("S", ""),
        message_id=raw.get("message_id", {}).get("S", ""),
        msg_key=raw.get("msg_key", {}).get("S", ""),
    )


def seen_before(shop_id: str, scope: str, key: str) -> FirstCopy | None:
    """The first copy of a request, read directly (for a repeat refused before its write)."""
    try:
        item = InboundDedupe.get(InboundDedupe.key(shop_id, scope, key), consistent_read=True)
    except InboundDedupe.DoesNotExist:
        return None
    return FirstCopy(item.conversation_id, item.message_id, item.msg_key)
