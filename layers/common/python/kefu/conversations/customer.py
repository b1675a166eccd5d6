"""The customer's side of their conversation, for in-app chat clients that poll for replies."""

from __future__ import annotations

from kefu.auth.actors import CustomerActor
from kefu.conversations.messages import list_messages
from kefu.conversations.views import message_view
from kefu.customers import get_customer
from kefu.errors import NotFound
from kefu.storage.conversations import Conversation


def _current_conversation_id(actor: CustomerActor) -> str | None:
    customer = get_customer(actor.shop_id, actor.customer_id)
    if customer is None:
        raise NotFound("customer no longer exists: log in again", code="customer_not_found")
    if customer.open_conversation_id:
        return customer.open_conversation_id
    latest = list(
        Conversation.by_customer.query(
            Conversation.customer_key(actor.shop_id, actor.customer_id),
            scan_index_forward=False,
            limit=1,
        )
    )
    return latest[0].conversation_id if latest else None


def customer_messages(
    actor: CustomerActor,
    *,
    conversation_id: str | None,
    after: str | None,
    before: str | None,
    limit: int,
) -> dict:
    if conversation_id:
        try:
            conv = Conversation.get(actor.shop_id, conversation_id)
        except Conversation.DoesNotExist:
            conv = None
        if conv is None or conv.customer_id != actor.customer_id:
            raise NotFound(f"no conversation {conversation_id!r}", code="conversation_not_found")
    else:
        conversation_id = _current_conversation_id(actor)
    if conversation_id is None:
        return {"conversation_id": None, "messages": [], "next_cursor": after, "has_more": False}
    messages, has_more = list_messages(
        actor.shop_id, conversation_id, after=after, before=before, limit=limit
    )
    return {
        "conversation_id": conversation_id,
        # Staff's internal notes live in the same timeline and never reach the customer.
        "messages": [
            message_view(m, for_customer=True) for m in messages if m.direction != "internal"
        ],
        # Poll with ?after=<next_cursor> for what arrives next (past any notes skipped here).
        "next_cursor": messages[-1].msg_key if messages else after,
        "has_more": has_more,
    }
