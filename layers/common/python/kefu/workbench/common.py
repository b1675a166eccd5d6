"""What the workbench modules share: who may act on a conversation, the customer profile as
staff see it (contact masked by role), and lazy seams to other capabilities (orders, tickets)
that may be deployed later than this one."""

from __future__ import annotations

import logging
from typing import Any

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import Conflict, Forbidden
from kefu.storage.conversations import OPEN_STATUSES, Conversation
from kefu.storage.customers import Customer

log = logging.getLogger("kefu.workbench")


def visible(actor: StaffActor, conv: Conversation) -> bool:
    """As kefu.conversations.service: agents see unassigned conversations and their own."""
    return actor.can(p.CONVERSATIONS_READ_ALL) or conv.assignee in (None, actor.username)


def require_handler(actor: StaffActor, conv: Conversation, *, what: str) -> None:
    """Acting on an open conversation: its assigned agent, or a supervisor/owner."""
    if conv.status not in OPEN_STATUSES:
        raise Conflict(f"conversation is {conv.status}", code="not_open")
    if conv.assignee != actor.username and not actor.can(p.CONVERSATIONS_ASSIGN):
        raise Forbidden(
            f"only the assigned agent or a supervisor may {what}", code="not_your_conversation"
        )


def summary(actor: StaffActor, conv: Conversation) -> dict:
    """A conversation in a list. Another agent's conversation is shown to agents without its
    content (they may know it exists in the customer's history, not what was said)."""
    if visible(actor, conv):
        return conv.to_public()
    return {
        "conversation_id": conv.conversation_id,
        "customer_id": conv.customer_id,
        "channel": conv.channel,
        "status": conv.status,
        "queue": conv.queue,
        "assignee": conv.assignee,
        "opened_at": conv.opened_at,
        "last_activity_at": conv.last_activity_at,
        "resolved_at": conv.resolved_at,
        "redacted": True,
    }


def mask_contact(contact: str | None) -> str | None:
    """138****5678: enough to confirm a number with the customer, not to call it."""
    from kefu.customers.fields import mask_phone

    return mask_phone(contact)


def customer_profile(actor: StaffActor, customer: Customer | None) -> dict | None:
    """The profile beside a conversation. The first phone (`contact`) is shown unmasked to a role
    with customers.contact.read, on record first; every other personal field stays masked here
    (GET /v1/customers/{id}?reveal=true shows them, docs/customers.md)."""
    if customer is None:
        return None
    from kefu.customers import profiles

    masked = profiles.view(customer, plain=None, with_attributes=False)
    see_contact = actor.can(p.CUSTOMERS_CONTACT_READ)
    contact = masked["contact"]
    if see_contact and contact:
        from kefu.audit import record_access

        # An unmasked phone number is personal data shown: on record before it is shown.
        record_access(
            actor,
            action="customer.contact_viewed",
            target_type="customer",
            target_id=customer.customer_id,
        )
        contact = profiles.first_phone(customer)
    return {
        "customer_id": customer.customer_id,
        "display_name": customer.display_name,
        "avatar_url": customer.avatar_url,
        "tier": customer.tier,
        # Tiers (kefu.tiers): the scores behind the tier, and points / level if the shop uses them.
        "rfm": customer.rfm.as_dict() if customer.rfm is not None else None,
        "tier_changed_at": customer.tier_changed_at,
        "points": int(customer.points) if customer.points is not None else None,
        "member_level": customer.member_level,
        "tags": list(customer.tags or []),
        "notes": customer.notes,
        "contact": contact,
        "contact_masked": bool(contact) and not see_contact,
        "real_name": masked["real_name"],
        "lifecycle_stage": masked["lifecycle_stage"],
        "owner_agent": customer.owner_agent,
        "remarks": customer.remarks,
        "channels": masked["channels"],
        "purchase_summary": masked["purchase_summary"],
        "created_at": customer.created_at,
        "last_seen_at": customer.last_seen_at,
    }


def activity(recent: Any) -> list[dict[str, Any]]:
    """kefu.orders.recent_activity_entries: the customer's latest browsing and cart events."""
    try:
        from kefu.orders import recent_activity_entries as impl
    except ImportError:  # the shop-events capability is not deployed in this layer
        return []
    return impl(recent)


# --- seams to capabilities built alongside this one ------------------------------------------


def recent_orders(shop_id: str, customer_id: str, limit: int) -> list[dict[str, Any]]:
    """kefu.orders.recent_orders_with_trail (orders with their whole logistics trail), newest
    first."""
    try:
        from kefu.orders import recent_orders_with_trail as impl
    except ImportError:  # the shop-events capability is not deployed in this layer
        return []
    return list(impl(shop_id, customer_id, limit))


def open_tickets(shop_id: str, customer_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """kefu.tickets.open_tickets: the customer's tickets that are not resolved or closed."""
    try:
        from kefu.tickets import open_tickets as impl
    except ImportError:  # the tickets capability is not deployed in this layer
        return []
    return list(impl(shop_id, customer_id, limit=limit))
