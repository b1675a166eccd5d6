"""Domain events on the EventBridge bus. The catalogue (names, sources, payloads) is
docs/events.md; consumers are idempotent because EventBridge and SQS deliver at least once.

Envelope (EventBridge `detail`): {"event_id", "type", "shop_id", "occurred_at", "data": {...}}.
`event_id` is deterministic where the event is a fact about one record (e.g. one message), so a
re-publish of the same fact carries the same id and consumers can drop it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kefu.aws import client
from kefu.config import settings
from kefu.ids import now_ms

# Event types, and the capability that emits each (the EventBridge `source`).
MESSAGE_RECEIVED = "message.received"
CUSTOMER_ENTERED_SESSION = "customer.entered_session"
CONVERSATION_OPENED = "conversation.opened"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_RESOLVED = "conversation.resolved"
CONVERSATION_CLOSED = "conversation.closed"
REPLY_CREATED = "reply.created"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_UNDELIVERABLE = "message.undeliverable"
CONVERSATION_ROUTED = "conversation.routed"
CONVERSATION_TRANSFERRED = "conversation.transferred"
AGENT_STATUS_CHANGED = "agent.status_changed"
AGENT_SLOT_FREED = "agent.slot_freed"
# What the shop's own back end reports (POST /v1/shop-events): shop.<its type, "." -> "_">.
SHOP_ORDER_CREATED = "shop.order_created"
SHOP_ORDER_PAID = "shop.order_paid"
SHOP_ORDER_SHIPPED = "shop.order_shipped"
SHOP_LOGISTICS_UPDATED = "shop.logistics_updated"
SHOP_ORDER_DELIVERED = "shop.order_delivered"
SHOP_REFUND_REQUESTED = "shop.refund_requested"
SHOP_REFUND_APPROVED = "shop.refund_approved"
SHOP_ORDER_CANCELLED = "shop.order_cancelled"
SHOP_CART_ITEM_ADDED = "shop.cart_item_added"
SHOP_CART_ITEM_REMOVED = "shop.cart_item_removed"
SHOP_PRODUCT_VIEWED = "shop.product_viewed"
SHOP_EVENT_TYPES = (
    SHOP_ORDER_CREATED,
    SHOP_ORDER_PAID,
    SHOP_ORDER_SHIPPED,
    SHOP_LOGISTICS_UPDATED,
    SHOP_ORDER_DELIVERED,
    SHOP_REFUND_REQUESTED,
    SHOP_REFUND_APPROVED,
    SHOP_ORDER_CANCELLED,
    SHOP_CART_ITEM_ADDED,
    SHOP_CART_ITEM_REMOVED,
    SHOP_PRODUCT_VIEWED,
)
STAFF_MENTIONED = "staff.mentioned"
TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_RESOLVED = "ticket.resolved"
TICKET_SLA_BREACHED = "ticket.sla_breached"
STAFF_NOTIFIED = "staff.notified"
# The bot (kefu.bot.turn, docs/bot.md): what it answered, and a conversation it hands to people.
BOT_REPLIED = "bot.replied"
HANDOFF_REQUESTED = "handoff.requested"
# The knowledge base (kefu.knowledge.publish, docs/knowledge-base.md): a publish asked for (the
# knowledge_publisher function builds it), and a new published version.
KNOWLEDGE_PUBLISH_REQUESTED = "knowledge.publish_requested"
KNOWLEDGE_PUBLISHED = "knowledge.published"

SOURCES = {
    MESSAGE_RECEIVED: "kefu.intake",
    CUSTOMER_ENTERED_SESSION: "kefu.intake",
    CONVERSATION_OPENED: "kefu.conversations",
    CONVERSATION_ASSIGNED: "kefu.conversations",
    CONVERSATION_RESOLVED: "kefu.conversations",
    CONVERSATION_CLOSED: "kefu.conversations",
    REPLY_CREATED: "kefu.conversations",
    MESSAGE_DELIVERED: "kefu.outbound",
    MESSAGE_UNDELIVERABLE: "kefu.outbound",
    CONVERSATION_ROUTED: "kefu.routing",
    CONVERSATION_TRANSFERRED: "kefu.routing",
    AGENT_STATUS_CHANGED: "kefu.routing",
    AGENT_SLOT_FREED: "kefu.routing",
    **{shop_type: "kefu.shop" for shop_type in SHOP_EVENT_TYPES},
    STAFF_MENTIONED: "kefu.workbench",
    TICKET_CREATED: "kefu.tickets",
    TICKET_UPDATED: "kefu.tickets",
    TICKET_RESOLVED: "kefu.tickets",
    TICKET_SLA_BREACHED: "kefu.tickets",
    STAFF_NOTIFIED: "kefu.realtime",
    BOT_REPLIED: "kefu.bot",
    HANDOFF_REQUESTED: "kefu.bot",
    KNOWLEDGE_PUBLISH_REQUESTED: "kefu.knowledge",
    KNOWLEDGE_PUBLISHED: "kefu.knowledge",
}


class PublishFailed(RuntimeError):
    """EventBridge refused some entries; the caller's unit of work must be retried."""


@dataclass(frozen=True)
class DomainEvent:
    type: str
    shop_id: str
    event_id: str
    data: dict[str, Any]
    occurred_at: int = field(default_factory=now_ms)

    def entry(self) -> dict[str, Any]:
        return {
            "EventBusName": settings().event_bus_name,
            "Source": SOURCES[self.type],
            "DetailType": self.type,
            "Detail": json.dumps(
                {
                    "event_id": self.event_id,
                    "type": self.type,
                    "shop_id": self.shop_id,
                    "occurred_at": self.occurred_at,
                    "data": self.data,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        }


def publish(*events: DomainEvent) -> None:
    """Put events on the bus, 10 per call (PutEvents' limit); raise if any entry failed."""
    entries = [e.entry() for e in events]
    for start in range(0, len(entries), 10):
        resp = client("events").put_events(Entries=entries[start : start + 10])
        if resp.get("FailedEntryCount"):
            failed = [e for e in resp["Entries"] if e.get("ErrorCode")]
            raise PublishFailed(f"EventBridge rejected {len(failed)} event(s): {failed[:3]}")


def parse_sqs_record(record: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event carried in an SQS record's body -> our envelope (`detail`)."""
    body = json.loads(record["body"])
    detail = body.get("detail", body)
    if not isinstance(detail, dict) or "type" not in detail or "shop_id" not in detail:
        raise ValueError("SQS record does not carry a kefu domain event")
    return detail
