"""History search, bounded, never a Scan.

- by customer: GSI by_customer (`<shop>#<customer>`), a range on opened_at (from/to), newest
  first, paged;
- text (`q`): the customer's newest SEARCH_CONVERSATIONS conversations in the range (one
  by_customer Query) — without a customer, the shop's most recently active ones (one
  by_activity Query) — then one Query per conversation on MessagesTable with a
  FilterExpression contains(content.text, q) — at most 1 + SEARCH_CONVERSATIONS requests, each
  reading at most one 1 MB page; `truncated` says when older conversations were not searched;
- a date range without a customer: GSI by_activity (`<shop>`), a range on last_activity_at.
Agents get what they may see (kefu.conversations.service._visible); other agents' conversations
appear in a customer's history without their content, and are not text-searched.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pynamodb.expressions.operand import Path

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.conversations.views import message_view
from kefu.errors import BadRequest
from kefu.pagination import decode_cursor, take_page
from kefu.storage.conversations import Conversation
from kefu.storage.messages import Message, conversation_key
from kefu.workbench.common import summary, visible

SEARCH_CONVERSATIONS = 10
MATCHES_PER_CONVERSATION = 5
MAX_MS = 10**13 - 1
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_time(raw: str | None, name: str, *, end: bool = False) -> int | None:
    """Epoch milliseconds, or a UTC date (YYYY-MM-DD: its start, or its end for `to`)."""
    if raw is None:
        return None
    if raw.isdigit():
        return int(raw)
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(
            f"{name} must be epoch milliseconds or a date YYYY-MM-DD", code="invalid_time"
        ) from None
    ms = int(day.timestamp() * 1000)
    return ms + 86_400_000 - 1 if end else ms


def search(
    actor: StaffActor,
    *,
    customer_id: str | None,
    q: str | None,
    from_ms: int | None,
    to_ms: int | None,
    limit: int,
    cursor: str | None,
) -> dict:
    p.require(actor, p.CONVERSATIONS_READ)
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise BadRequest("from is after to", code="invalid_time")
    if q is not None and not (1 <= len(q) <= 100):
        raise BadRequest("q must be 1 to 100 characters", code="invalid_query")
    if customer_id is not None and not _CUSTOMER_ID.match(customer_id):
        raise BadRequest("customer_id is not a customer id", code="invalid_customer")
    if not customer_id and not q and from_ms is None and to_ms is None:
        raise BadRequest("give customer_id, q, or a from/to range", code="search_too_broad")
    low, high = from_ms or 0, to_ms if to_ms is not None else MAX_MS
    if q:
        return _text(actor, customer_id, q, low, high)
    last = decode_cursor(cursor, shop_id=actor.shop_id)
    if customer_id:
        results = Conversation.by_customer.query(
            Conversation.customer_key(actor.shop_id, customer_id),
            Conversation.opened_at.between(low, high),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=last,
        )
    else:
        results = _recent(actor, low, high, limit=limit, last=last)
    convs, next_cursor = take_page(results, limit)
    return {"conversations": [summary(actor, c) for c in convs], "next_cursor": next_cursor}


def _recent(actor: StaffActor, low: int, high: int, *, limit: int, last=None):  # noqa: ANN001
    """The shop's conversations active in [low, high], newest first (agents: those they see)."""
    flt = None
    if not actor.can(p.CONVERSATIONS_READ_ALL):
        flt = Conversation.assignee.does_not_exist() | (Conversation.assignee == actor.username)
    return Conversation.by_activity.query(
        actor.shop_id,
        Conversation.last_activity_at.between(low, high),
        filter_condition=flt,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=last,
    )


def _text(actor: StaffActor, customer_id: str | None, q: str, low: int, high: int) -> dict:
    if customer_id:
        results = Conversation.by_customer.query(
            Conversation.customer_key(actor.shop_id, customer_id),
            Conversation.opened_at.between(low, high),
            scan_index_forward=False,
            limit=SEARCH_CONVERSATIONS,
        )
    else:
        results = _recent(actor, low, high, limit=SEARCH_CONVERSATIONS)
    convs = list(results)
    hits = []
    for conv in convs:
        if not visible(actor, conv):
            continue
        # One request per conversation: its newest 1 MB page, filtered on the server.
        page = Message._get_connection().query(
            conversation_key(actor.shop_id, conv.conversation_id),
            filter_condition=Path(["content", "text"]).contains(q),
            scan_index_forward=False,
        )
        found = [Message.from_raw_data(item) for item in page.get("Items", [])]
        if found:
            hits.append(
                {
                    "conversation": conv.to_public(),
                    "messages": [message_view(m) for m in found[:MATCHES_PER_CONVERSATION]],
                    "more_matches": len(found) > MATCHES_PER_CONVERSATION
                    or "LastEvaluatedKey" in page,
                }
            )
    return {
        "results": hits,
        "searched_conversations": len(convs),
        # Older conversations exist beyond the bound: narrow with from/to.
        "truncated": results.last_evaluated_key is not None,
    }
