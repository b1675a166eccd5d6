"""Recomputing a customer's tier, and the points an order earns (docs/tiers.md).

On each of the shop's order events (tiers' own queue): the order's points, once per order (a
conditional PointsEntry; a refund or cancel takes them back once), then the customer's RFM scores,
tier and member level from the purchase summary on the customer item. A new tier is written with
`tier_changed_at` and the change record, conditional on the tier the computation started from, and
announced as `customer.tier_changed`.

Idempotent per event: a repeat finds the points entry written and the tier already computed; if
the change it caused is the last one recorded (`tier_change.cause`), it announces it again under
the same event id, in case the first attempt wrote but could not publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError

from kefu import events
from kefu import events_catalog as contracts
from kefu.ids import now_ms
from kefu.storage.customers import Customer
from kefu.storage.tiers import (
    PointsEntry,
    customer_ref,
    get_customer,
    points_action,
    tier_actions,
    tier_condition,
)
from kefu.storage.tx import condition_failed, write_transaction
from kefu.tiers import settings as tier_settings
from kefu.tiers.rules import CompiledSettings, Summary, cents

# Statuses of an order that count as bought (kefu.shop_events' status after each event).
PAID_STATUSES = frozenset({"paid", "shipped", "delivered", "refund_requested"})
_EARN_EVENTS = (contracts.ShopOrderPaid, contracts.ShopOrderShipped, contracts.ShopOrderDelivered)
_REVERSE_EVENTS = (contracts.ShopRefundApproved, contracts.ShopOrderCancelled)
_ATTEMPTS = 4


@dataclass(frozen=True)
class Change:
    customer_id: str
    old_tier: str | None
    new_tier: str
    at: int


def summary_of(customer: Customer) -> Summary:
    return Summary(
        orders_count=int(customer.orders_count or 0),
        total_spent=int(customer.total_spent or 0),
        last_purchase_at=int(customer.last_purchase_at) if customer.last_purchase_at else None,
    )


def _summary_from_orders(shop_id: str, customer_id: str) -> Summary:
    """A customer item without `orders_count` (its orders predate the purchase summary that
    kefu.customers.summary keeps in the shop-event transaction: a deployment upgraded in place)
    is summarised from its orders: one Query of the customer's own partition in OrdersTable.
    Used on the order event path only, never by the nightly pass (which treats an absent
    summary as zero)."""
    from kefu.orders import recent_orders

    paid = [
        o for o in recent_orders(shop_id, customer_id, limit=200) if o["status"] in PAID_STATUSES
    ]
    if not paid:
        return Summary()
    return Summary(
        orders_count=len(paid),
        total_spent=sum(cents(o.get("amount")) for o in paid),
        last_purchase_at=max(int(o["placed_at"]) for o in paid),
    )


def apply(
    shop_id: str,
    customer: Customer,
    settings: CompiledSettings,
    *,
    now: int,
    cause: str,
    summary: Summary | None = None,
) -> Change | None:
    """Score the customer and write what changed, conditional on the tier it started from.
    Returns the tier change (already announced), or None when the tier stayed."""
    for _ in range(_ATTEMPTS):
        result = settings.evaluate(summary or summary_of(customer), int(customer.points or 0), now)
        old_tier = customer.tier
        rfm = result.rfm.as_dict() if result.rfm else None
        old_rfm = customer.rfm.as_dict() if customer.rfm is not None else None
        level = result.member_level
        if (result.tier, rfm, level or customer.member_level) == (
            old_tier,
            old_rfm,
            customer.member_level,
        ):
            _announce_again(shop_id, customer, cause)
            return None
        moved = result.tier != old_tier
        change = (
            {
                "event_id": f"{events.CUSTOMER_TIER_CHANGED}:{customer.customer_id}:{now}",
                "cause": cause,
                "from": old_tier,
                "to": result.tier,
                "at": now,
                "rfm": rfm,
            }
            if moved
            else None
        )
        try:
            customer_ref(shop_id, customer.customer_id).update(
                actions=tier_actions(
                    tier=result.tier if moved else None,
                    rfm=rfm,
                    member_level=level,
                    change=change,
                ),
                condition=tier_condition(old_tier),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            fresh = get_customer(shop_id, customer.customer_id)
            if fresh is None:
                return None  # erased meanwhile
            customer = fresh
            continue
        if change is None:
            return None
        customer.tier_change = change
        _publish(shop_id, customer, change)
        return Change(customer.customer_id, old_tier, result.tier, now)
    raise RuntimeError(f"customer {customer.customer_id} kept changing; retry the event")


def _publish(shop_id: str, customer: Customer, change: dict[str, Any]) -> None:
    events.publish(
        events.DomainEvent(
            contracts.CustomerTierChanged(
                customer_id=customer.customer_id,
                old_tier=change["from"],
                new_tier=change["to"],
                rfm=change.get("rfm"),
                cause=change["cause"],
                open_conversation_id=customer.open_conversation_id,
            ),
            shop_id,
            change["event_id"],
            occurred_at=change["at"],
        )
    )


def _announce_again(shop_id: str, customer: Customer, cause: str) -> None:
    change = customer.tier_change
    if change and change.get("cause") == cause and change.get("to") == customer.tier:
        _publish(shop_id, customer, change)


# ------------------------------------------------------------------------------ points


def _earn(shop_id: str, customer_id: str, order_id: str, points: int, event_id: str) -> int:
    at = now_ms()
    entry = PointsEntry(
        shop_id,
        PointsEntry.key(customer_id, order_id),
        customer_id=customer_id,
        order_id=order_id,
        earned=points,
        earned_at=at,
        earned_by=event_id,
    )
    try:
        with write_transaction() as tx:
            tx.save(entry, condition=PointsEntry.sk.does_not_exist())
            if points:
                tx.update(
                    customer_ref(shop_id, customer_id),
                    [points_action(points)],
                    condition=Customer.sk.exists(),
                )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            return 0  # earned already (or refunded before it was paid): once per order
        raise
    return points


def _reverse(
    shop_id: str,
    customer_id: str,
    order_id: str,
    refund_cents: int | None,
    settings: CompiledSettings,
    event_id: str,
) -> int:
    at = now_ms()
    try:
        entry = PointsEntry.get(
            shop_id, PointsEntry.key(customer_id, order_id), consistent_read=True
        )
    except PointsEntry.DoesNotExist:
        # Refunded or cancelled before (or without) a payment event: nothing to take back, and
        # a late payment event must not earn points for it.
        entry = PointsEntry(
            shop_id,
            PointsEntry.key(customer_id, order_id),
            customer_id=customer_id,
            order_id=order_id,
            earned=0,
            reversed=0,
            reversed_at=at,
            reversed_by=event_id,
        )
        try:
            entry.save(condition=PointsEntry.sk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            # Its payment was being applied at the same moment: take them back on a retry.
            raise RuntimeError(f"points of order {order_id} changed meanwhile; retry") from None
        return 0
    if entry.reversed is not None:
        return 0
    earned = int(entry.earned or 0)
    taken = earned if refund_cents is None else min(earned, settings.points_for(refund_cents))
    try:
        with write_transaction() as tx:
            tx.update(
                entry,
                [
                    PointsEntry.reversed.set(taken),
                    PointsEntry.reversed_at.set(at),
                    PointsEntry.reversed_by.set(event_id),
                ],
                condition=PointsEntry.reversed.does_not_exist(),
            )
            if taken:
                tx.update(
                    customer_ref(shop_id, customer_id),
                    [points_action(-taken)],
                    condition=Customer.sk.exists(),
                )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            return 0
        raise
    return taken


def order_points(
    shop_id: str, data: contracts.ShopOrderEvent, settings: CompiledSettings, event_id: str
) -> int:
    """The points this order event moves: + on the first event showing it paid, - on its
    refund or cancellation (once per order either way)."""
    if not settings.settings.points_enabled:
        return 0
    order = data.order or {}
    if isinstance(data, _EARN_EVENTS) and order.get("status") in PAID_STATUSES:
        points = settings.points_for(cents(order.get("amount")))
        return _earn(shop_id, data.customer_id, data.order_id, points, event_id)
    if isinstance(data, _REVERSE_EVENTS):
        refund = getattr(data, "refund_amount", None)
        refund_cents = cents(refund) if isinstance(refund, str) and refund else None
        return -_reverse(shop_id, data.customer_id, data.order_id, refund_cents, settings, event_id)
    return 0


# ------------------------------------------------------------------------------ the event


def on_order_event(event: events.Event) -> dict[str, Any]:
    """One of the shop's order events: points, then the tier. Safe to repeat."""
    data: contracts.ShopOrderEvent = event.data
    shop_id = event.shop_id
    settings = tier_settings.load(shop_id)
    cause = event.event_id or f"{event.type}:{data.shop_event_id}"
    moved = order_points(shop_id, data, settings, cause)
    customer = get_customer(shop_id, data.customer_id)
    if customer is None:
        return {"skipped": "no customer"}
    summary = None
    if customer.orders_count is None:
        summary = _summary_from_orders(shop_id, customer.customer_id)
    change = apply(shop_id, customer, settings, now=now_ms(), cause=cause, summary=summary)
    return {
        "points": moved,
        "tier": change.new_tier if change else customer.tier,
        "changed": change is not None,
    }
