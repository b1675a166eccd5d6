"""The purchase summary on the customer item, folded from the shop's order events in the same
transaction that applies each event (kefu.shop_events), so it can never count an event the
order did not take, nor miss one it did. The event's de-duplication item in that transaction
makes the fold happen once per event.

What counts:
- a **purchase** is an order that reached `paid` (or any later stage: shipped, delivered, a
  refund) — once per order, marked on the order (`counted_at`); a created-then-cancelled order
  is not a purchase. It adds 1 to `orders_count`, its amount to `total_spent` (cents), its
  categories, and moves `first_purchase_at` / `last_purchase_at` (the order's placed time);
- an **approved refund** — once per order (`refund_counted_at`) — adds 1 to `refunds_count`,
  takes the refunded amount (the order's amount when the shop sent none) off `total_spent`, and
  sets `last_refund_at`.
The lifecycle stage is written beside it unless staff overrode it (segments index it).

Hot keys: the customer items share their shop's partition, so only these two transitions write
the customer (not every order, logistics or browsing event): at most ~2 writes per order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from kefu.customers.fields import derived_stage
from kefu.storage.customers import Customer

MAX_CATEGORIES = 50
COUNTED_STATUSES = frozenset({"paid", "shipped", "delivered", "refund_requested", "refunded"})


def cents(amount: str | None) -> int:
    """ "79.00" (yuan, as the shop sends it) -> 7900."""
    if not amount:
        return 0
    try:
        return int((Decimal(amount) * 100).to_integral_value())
    except InvalidOperation:
        return 0


@dataclass
class Delta:
    """What one event changes in the summary."""

    purchase_at: int | None = None  # a new purchase, placed at
    spent: int = 0
    categories: list[str] = field(default_factory=list)
    refund_at: int | None = None

    def __bool__(self) -> bool:
        return self.purchase_at is not None or self.refund_at is not None


def delta_for(order: Any, *, refund_approved: bool, at: int) -> Delta:
    """The change an order's new state makes, marking the order so it is counted once. `order`
    is a kefu.storage.orders.Order after the event was merged into it."""
    delta = Delta()
    if order.counted_at is None and order.status in COUNTED_STATUSES:
        order.counted_at = at
        delta.purchase_at = order.placed_at
        delta.spent += cents(order.amount)
        delta.categories = sorted({line.category for line in order.items or [] if line.category})
    if refund_approved and order.refund_counted_at is None:
        order.refund_counted_at = at
        delta.refund_at = at
        delta.spent -= cents(order.refund_amount) or cents(order.amount)
    return delta


def update_actions(customer: Customer, delta: Delta) -> list[Any]:
    """The customer's summary after `delta`, as update actions (with summary_rev + 1)."""
    count = int(customer.orders_count or 0)
    first, last = customer.first_purchase_at, customer.last_purchase_at
    categories = [str(c) for c in customer.categories or []]
    if delta.purchase_at is not None:
        count += 1
        first = delta.purchase_at if first is None else min(first, delta.purchase_at)
        last = delta.purchase_at if last is None else max(last, delta.purchase_at)
        categories += [c for c in delta.categories if c not in categories]
    refunds = int(customer.refunds_count or 0) + (1 if delta.refund_at else 0)
    last_refund = delta.refund_at or customer.last_refund_at
    actions = [
        Customer.orders_count.set(count),
        Customer.total_spent.set(max(int(customer.total_spent or 0) + delta.spent, 0)),
        Customer.refunds_count.set(refunds),
        Customer.summary_rev.set(int(customer.summary_rev or 0) + 1),
    ]
    if first is not None and last is not None:
        actions += [Customer.first_purchase_at.set(first), Customer.last_purchase_at.set(last)]
    if categories:
        actions.append(Customer.categories.set(cast(Any, categories[-MAX_CATEGORIES:])))
    if last_refund:
        actions.append(Customer.last_refund_at.set(last_refund))
    if not customer.lifecycle_override:
        actions.append(
            Customer.lifecycle_stage.set(derived_stage(count, _int(last), _int(last_refund)))
        )
    return actions


def _int(value: float | None) -> int | None:
    return int(value) if value is not None else None


def guard(customer: Customer) -> Any:
    """The condition of the summary's update: nobody folded another event meanwhile."""
    rev = customer.summary_rev
    return Customer.summary_rev.does_not_exist() if rev is None else Customer.summary_rev == rev
