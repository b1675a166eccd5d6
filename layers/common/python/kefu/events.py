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

import msgspec

from kefu import events_catalog as c
from kefu.aws import client
from kefu.config import settings
from kefu.ids import now_ms

# Event types (the detail-type of each contract in kefu.events_catalog).
MESSAGE_RECEIVED = c.MessageReceived.TYPE
CUSTOMER_ENTERED_SESSION = c.CustomerEnteredSession.TYPE
CONVERSATION_OPENED = c.ConversationOpened.TYPE
CONVERSATION_ASSIGNED = c.ConversationAssigned.TYPE
CONVERSATION_RESOLVED = c.ConversationResolved.TYPE
CONVERSATION_CLOSED = c.ConversationClosed.TYPE
REPLY_CREATED = c.ReplyCreated.TYPE
MESSAGE_DELIVERED = c.MessageDelivered.TYPE
MESSAGE_UNDELIVERABLE = c.MessageUndeliverable.TYPE
CONVERSATION_ROUTED = c.ConversationRouted.TYPE
CONVERSATION_TRANSFERRED = c.ConversationTransferred.TYPE
AGENT_STATUS_CHANGED = c.AgentStatusChanged.TYPE
AGENT_SLOT_FREED = c.AgentSlotFreed.TYPE
# What the shop's own back end reports (POST /v1/shop-events): shop.<its type, "." -> "_">.
SHOP_ORDER_CREATED = c.ShopOrderCreated.TYPE
SHOP_ORDER_PAID = c.ShopOrderPaid.TYPE
SHOP_ORDER_SHIPPED = c.ShopOrderShipped.TYPE
SHOP_LOGISTICS_UPDATED = c.ShopLogisticsUpdated.TYPE
SHOP_ORDER_DELIVERED = c.ShopOrderDelivered.TYPE
SHOP_REFUND_REQUESTED = c.ShopRefundRequested.TYPE
SHOP_REFUND_APPROVED = c.ShopRefundApproved.TYPE
SHOP_ORDER_CANCELLED = c.ShopOrderCancelled.TYPE
SHOP_CART_ITEM_ADDED = c.ShopCartItemAdded.TYPE
SHOP_CART_ITEM_REMOVED = c.ShopCartItemRemoved.TYPE
SHOP_PRODUCT_VIEWED = c.ShopProductViewed.TYPE
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
# Tiers (kefu.tiers, docs/tiers.md): a customer's tier moved.
CUSTOMER_TIER_CHANGED = c.CustomerTierChanged.TYPE
STAFF_MENTIONED = c.StaffMentioned.TYPE
TICKET_CREATED = c.TicketCreated.TYPE
TICKET_UPDATED = c.TicketUpdated.TYPE
TICKET_RESOLVED = c.TicketResolved.TYPE
TICKET_SLA_BREACHED = c.TicketSlaBreached.TYPE
STAFF_NOTIFIED = c.StaffNotified.TYPE
# The bot (kefu.bot.turn, docs/bot.md): what it answered, and a conversation it hands to people.
BOT_REPLIED = c.BotReplied.TYPE
HANDOFF_REQUESTED = c.HandoffRequested.TYPE
# The knowledge base (kefu.knowledge.publish, docs/knowledge-base.md): a publish asked for (the
# knowledge_publisher function builds it), and a new published version.
KNOWLEDGE_PUBLISH_REQUESTED = c.KnowledgePublishRequested.TYPE
KNOWLEDGE_PUBLISHED = c.KnowledgePublished.TYPE

# The capability that emits each type (the EventBridge `source`).
SOURCES = {kind: contract.SOURCE for kind, contract in c.CATALOG.items()}


class PublishFailed(RuntimeError):
    """EventBridge refused some entries; the caller's unit of work must be retried."""


@dataclass(frozen=True)
class DomainEvent:
    """One event to publish: its contract (`data`, which also gives its type) and envelope."""

    data: c.EventData
    shop_id: str
    event_id: str
    occurred_at: int = field(default_factory=now_ms)

    @property
    def type(self) -> str:
        return self.data.TYPE

    def detail(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "shop_id": self.shop_id,
            "occurred_at": self.occurred_at,
            "data": msgspec.to_builtins(self.data),
        }

    def entry(self) -> dict[str, Any]:
        return {
            "EventBusName": settings().event_bus_name,
            "Source": SOURCES[self.type],
            "DetailType": self.type,
            "Detail": json.dumps(self.detail(), ensure_ascii=False, separators=(",", ":")),
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


class BadEvent(ValueError):
    """A record that is not an event we know how to read; `reason` is a short code for logs."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Event:
    """A received event: the envelope, and `data` decoded into its type's contract."""

    type: str
    shop_id: str
    event_id: str | None
    occurred_at: int | None
    data: Any  # the EventData subclass of `type`


def decode(detail: dict[str, Any] | Event) -> Event:
    """Our envelope -> an Event with typed data; BadEvent if the type is unknown, or the data
    lacks a required field or has one of the wrong type."""
    if isinstance(detail, Event):
        return detail
    kind = detail.get("type")
    contract = c.CATALOG.get(kind) if isinstance(kind, str) else None
    if contract is None or not isinstance(kind, str):
        raise BadEvent("unknown_type", f"no contract for event type {kind!r}")
    shop_id = detail.get("shop_id")
    if not isinstance(shop_id, str) or not shop_id:
        raise BadEvent("malformed_envelope", "the envelope has no shop_id")
    occurred_at = detail.get("occurred_at")
    if occurred_at is not None and not isinstance(occurred_at, int):
        raise BadEvent("malformed_envelope", "occurred_at is not an integer (ms)")
    try:
        data = msgspec.convert(detail.get("data") or {}, contract)
    except msgspec.ValidationError as exc:
        raise BadEvent("malformed_data", f"{kind}: {exc}") from None
    event_id = detail.get("event_id")
    return Event(kind, shop_id, event_id if isinstance(event_id, str) else None, occurred_at, data)


def from_doc(shop_id: str, doc: dict[str, Any]) -> DomainEvent:
    """A DomainEvent stored as {type, event_id, data, occurred_at} (the bot's turn record)."""
    event = decode({**doc, "shop_id": shop_id})
    return DomainEvent(event.data, shop_id, doc["event_id"], doc["occurred_at"])
