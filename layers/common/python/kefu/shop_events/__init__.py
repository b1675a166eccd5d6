"""Events from the shop's own back end: orders, logistics, refunds, cart and browsing.

`receive` authenticates the request (the shop's HMAC signature), validates every event before
writing any, and `ingest` applies them one by one. Each event is applied in one transaction with
its de-duplication item (RuntimeTable `SHOPEVENT#<shop>#<event_id>`), so a replayed event
changes nothing; an order's status only moves to the status of a newer event (out-of-order
delivery cannot move it back); logistics updates always join the order's list, in time order.
Each event is then announced on the bus as `shop.<type with . -> _>` with a deterministic id.
Rules and payloads: docs/shop-events.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.auth.permissions import SHOP_EVENTS_WRITE, require
from kefu.customers import APP_USER, WECHAT_OPENID, Identity, resolve_customer, summary
from kefu.errors import Forbidden, NotFound, Unauthorized, UpstreamUnavailable
from kefu.events import DomainEvent, PublishFailed, publish
from kefu.events_catalog import CATALOG
from kefu.ids import now_ms
from kefu.shop_events.payloads import (
    CartItemAdded,
    CartItemRemoved,
    CustomerRef,
    LogisticsUpdated,
    OrderCancelled,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderShipped,
    ProductViewed,
    RefundApproved,
    RefundRequested,
    ShopEvent,
    decode_events,
    event_type,
)
from kefu.storage.customers import Customer
from kefu.storage.orders import (
    ACTIVITY_TTL_SECONDS,
    MAX_LOGISTICS,
    MAX_RECENT_ACTIVITY,
    RECENT,
    Activity,
    LogisticsUpdate,
    Order,
    OrderLine,
    RecentActivity,
    RecentActivityEntry,
    customer_key,
)
from kefu.storage.runtime import ShopEventSeen
from kefu.storage.tx import condition_failed, write_transaction

SHOP_HEADER = "X-Kefu-Shop"
DEDUPE_TTL_SECONDS = 90 * 24 * 3600  # as long as the activity it guards
_SHOP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
_WRITE_ATTEMPTS = 5

# kefu's order status after each kind of event; logistics updates leave the status alone.
STATUS_AFTER: dict[type, str] = {
    OrderCreated: "created",
    OrderPaid: "paid",
    OrderShipped: "shipped",
    OrderDelivered: "delivered",
    RefundRequested: "refund_requested",
    RefundApproved: "refunded",
    OrderCancelled: "cancelled",
}
# Breaks ties between events stamped with the same millisecond: the later stage wins.
_STAGE = {
    "created": 0,
    "paid": 1,
    "shipped": 2,
    "delivered": 3,
    "refund_requested": 4,
    "refunded": 5,
    "cancelled": 5,
}


@dataclass(frozen=True)
class ShopServer:
    """The shop's own back end, authenticated by its signature (not a staff member)."""

    shop_id: str
    role: str = "shop_server"

    @property
    def actor_id(self) -> str:
        return f"shop:{self.shop_id}"


@dataclass
class IngestResult:
    results: list[dict[str, str]] = field(default_factory=list)

    def to_public(self) -> dict[str, Any]:
        accepted = sum(1 for r in self.results if r["status"] == "accepted")
        return {
            "accepted": accepted,
            "duplicates": len(self.results) - accepted,
            "results": self.results,
        }


def receive(shop_id: str | None, signature: str | None, raw_body: bytes | None) -> dict[str, Any]:
    """POST /v1/shop-events: authenticate the shop's back end, validate, ingest."""
    from kefu.secrets import secret_string
    from kefu.shop_events.signature import verify
    from kefu.shops import get_shop

    if not shop_id or not shop_id.strip():
        raise Unauthorized(f"missing {SHOP_HEADER} header naming the shop", code="missing_shop")
    shop_id = shop_id.strip()
    if not _SHOP_ID.match(shop_id):
        raise NotFound(f"unknown shop {shop_id!r}", code="shop_not_found")
    shop = get_shop(shop_id)
    if not shop.shop_events_secret_id:
        raise Forbidden("shop events are not configured", code="shop_events_disabled")
    verify(secret_string(shop.shop_events_secret_id), raw_body or b"", signature)
    actor = ShopServer(shop_id)
    require(actor, SHOP_EVENTS_WRITE)
    # Every event is validated before any is written: a batch is accepted whole or not at all.
    events = decode_events(raw_body)
    return ingest(shop_id, events).to_public()


def ingest(shop_id: str, events: list[ShopEvent]) -> IngestResult:
    """Apply validated events in order, then announce them. Safe to repeat: an event already
    applied is reported as a duplicate and announced again under the same id (so a first
    attempt that stored but could not publish is completed by the retry)."""
    result = IngestResult()
    announce: dict[str, DomainEvent] = {}
    customers: dict[tuple[str, str], str] = {}
    for event in events:
        customer_id = _customer_id(shop_id, event.customer, customers)
        if isinstance(event, (CartItemAdded, CartItemRemoved, ProductViewed)):
            accepted, data = _record_activity(shop_id, customer_id, event)
        else:
            accepted, data = _apply_to_order(shop_id, customer_id, event)
        result.results.append(
            {"event_id": event.event_id, "status": "accepted" if accepted else "duplicate"}
        )
        domain_event = bus_event(shop_id, event, data)
        announce.setdefault(domain_event.event_id, domain_event)
    try:
        publish(*announce.values())
    except PublishFailed as exc:
        raise UpstreamUnavailable(
            "the events were stored but could not be announced; send the same request again "
            f"(events are applied once): {exc}",
            code="publish_failed",
        ) from None
    return result


def bus_type(shop_type: str) -> str:
    """order.shipped -> shop.order_shipped"""
    return "shop." + shop_type.replace(".", "_")


def bus_event(shop_id: str, event: ShopEvent, data: dict[str, Any]) -> DomainEvent:
    kind = bus_type(event_type(event))
    # The shop's event's fields -> its contract; a field the contract lacks would be a bug here.
    return DomainEvent(
        data=msgspec.convert(data, CATALOG[kind]),
        shop_id=shop_id,
        event_id=f"{kind}:{event.event_id}",
        occurred_at=event.occurred_at,
    )


# ----------------------------------------------------------------------------- customers


def _customer_id(shop_id: str, ref: CustomerRef, seen: dict[tuple[str, str], str]) -> str:
    identity = (
        Identity(APP_USER, ref.app_user_id)
        if ref.app_user_id is not None
        else Identity(WECHAT_OPENID, ref.wechat_openid or "")
    )
    key = (identity.kind, identity.external_id)
    if key not in seen:
        # A customer the shop knows before they ever wrote to kefu is created here.
        seen[key] = resolve_customer(shop_id, identity).customer_id
    return seen[key]


def _seen_item(shop_id: str, customer_id: str, event: ShopEvent, at: int) -> ShopEventSeen:
    return ShopEventSeen(
        ShopEventSeen.key(shop_id, event.event_id),
        type=event_type(event),
        customer_id=customer_id,
        received_at=at,
        expires_at=at // 1000 + DEDUPE_TTL_SECONDS,
    )


# ----------------------------------------------------------------------------- activity


def _record_activity(
    shop_id: str, customer_id: str, event: CartItemAdded | CartItemRemoved | ProductViewed
) -> tuple[bool, dict[str, Any]]:
    at = now_ms()
    item = Activity(
        customer_key(shop_id, customer_id),
        Activity.key(event.occurred_at, event.event_id),
        shop_id=shop_id,
        customer_id=customer_id,
        event_id=event.event_id,
        type=event_type(event),
        product_id=event.product_id,
        title=event.title,
        category=getattr(event, "category", None),
        price=event.price,
        quantity=getattr(event, "quantity", None),
        occurred_at=event.occurred_at,
        expires_at=event.occurred_at // 1000 + ACTIVITY_TTL_SECONDS,
    )
    data = {
        "customer_id": customer_id,
        "shop_event_id": event.event_id,
        "product_id": event.product_id,
        "title": event.title,
        "category": item.category,
        "price": event.price,
        "quantity": item.quantity,
    }
    for _ in range(_WRITE_ATTEMPTS):
        recent, condition = _recent_activity(shop_id, customer_id, item)
        try:
            with write_transaction() as tx:
                tx.save(
                    _seen_item(shop_id, customer_id, event, at),
                    condition=ShopEventSeen.pk.does_not_exist(),
                )
                tx.save(item)
                tx.save(recent, condition=condition)
        except TransactWriteError as exc:
            if condition_failed(exc, 0):
                return False, data
            if condition_failed(exc, 2):  # another event of this customer's meanwhile: again
                continue
            raise
        return True, data
    raise RuntimeError(f"recent activity of {customer_id} kept changing; giving up for a retry")


def _recent_activity(shop_id: str, customer_id: str, item: Activity) -> tuple[RecentActivity, Any]:
    """The customer's latest activity with `item` in it, and the condition to write it with."""
    pk = customer_key(shop_id, customer_id)
    condition: Any
    try:
        recent = RecentActivity.get(pk, RECENT, consistent_read=True)
        condition = RecentActivity.revision == recent.revision
    except RecentActivity.DoesNotExist:
        recent = RecentActivity(
            pk, RECENT, shop_id=shop_id, customer_id=customer_id, entries=[], revision=0
        )
        condition = RecentActivity.pk.does_not_exist()
    fields = RecentActivityEntry.get_attributes()
    entry = RecentActivityEntry(**{k: getattr(item, k) for k in fields})
    entries = [e for e in recent.entries or [] if e.event_id != item.event_id] + [entry]
    entries.sort(key=lambda e: (e.occurred_at, e.event_id), reverse=True)
    recent.entries = entries[:MAX_RECENT_ACTIVITY]
    recent.revision = (recent.revision or 0) + 1
    recent.expires_at = max(item.expires_at, recent.expires_at or 0)
    return recent, condition


# ----------------------------------------------------------------------------- orders


def _apply_to_order(shop_id: str, customer_id: str, event: Any) -> tuple[bool, dict[str, Any]]:
    pk = customer_key(shop_id, customer_id)
    sk = Order.key(event.order.order_id)
    for _ in range(_WRITE_ATTEMPTS):
        at = now_ms()
        try:
            order = Order.get(pk, sk, consistent_read=True)
            condition = Order.revision == order.revision
        except Order.DoesNotExist:
            order = _new_order(shop_id, customer_id, event)
            condition = Order.pk.does_not_exist()
        before = _snapshot(order)
        status_applied = merge(order, event)
        order.updated_at = at
        order.revision = (order.revision or 0) + 1
        # The customer's purchase summary moves in this same transaction (kefu.customers.summary).
        delta = summary.delta_for(order, refund_approved=isinstance(event, RefundApproved), at=at)
        customer = _summary_customer(shop_id, customer_id) if delta else None
        try:
            with write_transaction() as tx:
                tx.save(
                    _seen_item(shop_id, customer_id, event, at),
                    condition=ShopEventSeen.pk.does_not_exist(),
                )
                tx.save(order, condition=condition)
                if customer is not None:
                    tx.update(
                        customer,
                        summary.update_actions(customer, delta),
                        condition=Customer.sk.exists() & summary.guard(customer),
                    )
        except TransactWriteError as exc:
            if condition_failed(exc, 0):  # applied before: report what the order is now
                _restore(order, before)
                return False, _order_data(customer_id, event, order, status_applied=False)
            if condition_failed(exc, 1) or condition_failed(exc, 2):
                continue  # another event changed the order or the summary meanwhile: again
            raise
        return True, _order_data(customer_id, event, order, status_applied=status_applied)
    raise RuntimeError(f"order {event.order.order_id} kept changing; giving up for a retry")


def _summary_customer(shop_id: str, customer_id: str) -> Customer | None:
    try:
        return Customer.get(shop_id, Customer.key(customer_id), consistent_read=True)
    except Customer.DoesNotExist:  # erased meanwhile: the order is kept, no summary to move
        return None


def _new_order(shop_id: str, customer_id: str, event: Any) -> Order:
    info = event.order
    return Order(
        customer_key(shop_id, customer_id),
        Order.key(info.order_id),
        shop_id=shop_id,
        customer_id=customer_id,
        order_id=info.order_id,
        shop_order=Order.order_key(shop_id, info.order_id),
        # A logistics update can be the first news of an order: it has shipped, at least.
        status=STATUS_AFTER.get(type(event), "shipped"),
        placed_at=info.created_at or event.occurred_at,
        last_event_at=0,  # so the first status-bearing event always applies
        updated_at=0,
        revision=0,
        items=[],
        logistics=[],
    )


def merge(order: Order, event: Any) -> bool:
    """Fold one event into the order; True when it set the order's status.

    Status: only from an event newer than the one that set the current status (`last_event_at`;
    a tie goes to the later stage). The order's other fields come from the newest event that
    carries them, and from an older one only while they are still unknown. Logistics updates
    always join the list, once each, in the carrier's time order, the latest 20 kept.
    """
    t = event.occurred_at
    status = STATUS_AFTER.get(type(event))
    newer = status is not None and (
        t > order.last_event_at
        or (t == order.last_event_at and _STAGE[status] >= _STAGE.get(order.status, -1))
    )
    if newer:
        order.status = status
        order.last_event_at = t

    def take(attribute: str, value: Any) -> None:
        if value is not None and (newer or getattr(order, attribute) in (None, [])):
            setattr(order, attribute, value)

    info = event.order
    take("shop_status", info.status)
    take("amount", info.amount)
    if info.items is not None:
        take("items", [OrderLine(**_present(line)) for line in info.items])
    if info.created_at is not None:
        order.placed_at = info.created_at  # the shop's own order time wins
    elif t < order.placed_at:
        order.placed_at = t
    if isinstance(event, OrderShipped):
        take("carrier", event.carrier)
        take("tracking_number", event.tracking_number)
    if isinstance(event, (RefundRequested, RefundApproved)):
        take("refund_amount", event.refund_amount)
    if isinstance(event, (RefundRequested, OrderCancelled)):
        take("reason", event.reason)
    if isinstance(event, LogisticsUpdated):
        _add_logistics(order, event)
    return newer


def _add_logistics(order: Order, event: LogisticsUpdated) -> None:
    updates = list(order.logistics or [])
    if any(u.event_id == event.event_id for u in updates):
        return
    updates.append(
        LogisticsUpdate(
            event_id=event.event_id,
            status=event.status,
            description=event.description,
            location=event.location,
            at=event.at or event.occurred_at,
        )
    )
    updates.sort(key=lambda u: (u.at, u.event_id))
    order.logistics = updates[-MAX_LOGISTICS:]


def _present(struct: Any) -> dict[str, Any]:
    return {k: v for k, v in _fields(struct).items() if v is not None}


def _fields(struct: Any) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in struct.__struct_fields__}


_SNAPSHOT_FIELDS = (
    "status",
    "shop_status",
    "amount",
    "items",
    "carrier",
    "tracking_number",
    "logistics",
    "refund_amount",
    "reason",
    "placed_at",
    "last_event_at",
    "updated_at",
    "revision",
    "counted_at",
    "refund_counted_at",
)


def _snapshot(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in _SNAPSHOT_FIELDS}


def _restore(order: Order, snapshot: dict[str, Any]) -> None:
    for name, value in snapshot.items():
        setattr(order, name, value)


def _order_data(
    customer_id: str, event: Any, order: Order, *, status_applied: bool
) -> dict[str, Any]:
    from kefu.orders import order_summary

    data: dict[str, Any] = {
        "customer_id": customer_id,
        "shop_event_id": event.event_id,
        "order_id": order.order_id,
        "status_applied": status_applied,
        "order": order_summary(order),
    }
    if isinstance(event, LogisticsUpdated):
        data["logistics"] = {
            "status": event.status,
            "description": event.description,
            "location": event.location,
            "at": event.at or event.occurred_at,
        }
    if isinstance(event, (RefundRequested, RefundApproved)):
        data["refund_amount"] = event.refund_amount
    if isinstance(event, (RefundRequested, OrderCancelled)):
        data["reason"] = event.reason
    return data
