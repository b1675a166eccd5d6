"""Tiers' items in CustomersTable (kefu.tiers, docs/tiers.md), beside the customers they rank.

pk = shop_id
sk = "TIERS"                            the shop's tier settings: one JSON document + revision
sk = "TIERS#pass"                       the nightly pass's progress: which run, its Query
                                        cursor, done or not (resumable after a timeout)
sk = "POINTS#<customer_id>#<order_id>"  points an order earned and what its refund took back:
                                        the conditional writes that make points once per order

None of these starts with "CUSTOMER#" or "IDENTITY#", so the customers' Query
(`begins_with CUSTOMER#`) and the segments' stream consumer (which keeps customer items only)
never mistake them for customers.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from kefu.storage.base import KefuModel, table_name
from kefu.storage.customers import CUSTOMER_PREFIX, Customer

SETTINGS_SK = "TIERS"
PASS_SK = "TIERS#pass"
POINTS_PREFIX = "POINTS#"
UNSCORED = "regular"  # the built-in tier of a customer with no purchase (the item's default)

# What the tier computation reads of a customer (a Query's projection in the nightly pass).
TIER_INPUTS = (
    "pk",
    "sk",
    "customer_id",
    "tier",
    "rfm",
    "tier_change",
    "points",
    "member_level",
    "orders_count",
    "total_spent",
    "last_purchase_at",
)


class _CustomersItem(KefuModel):
    class Meta(KefuModel.Meta):
        abstract = True
        table_name = table_name("CUSTOMERS_TABLE", "kefu-customers")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)


class TierSettingsItem(_CustomersItem):
    class Meta(_CustomersItem.Meta):
        abstract = False

    sk = UnicodeAttribute(range_key=True, default=SETTINGS_SK)
    doc = JSONAttribute()  # kefu.tiers.rules.TierSettings as PUT /v1/tier-settings validated it
    revision = NumberAttribute(default=0)  # +1 per change; part of the nightly run's key
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute(null=True)


class TierPass(_CustomersItem):
    """One shop's nightly recomputation: `run_key` (local date + settings revision) names the
    run; `cursor` is the Query's LastEvaluatedKey after the last chunk written."""

    class Meta(_CustomersItem.Meta):
        abstract = False

    sk = UnicodeAttribute(range_key=True, default=PASS_SK)
    run_key = UnicodeAttribute()
    cursor = JSONAttribute(null=True)
    done = BooleanAttribute(default=False)
    read = NumberAttribute(default=0)
    changed = NumberAttribute(default=0)
    started_at = NumberAttribute()
    updated_at = NumberAttribute()


class PointsEntry(_CustomersItem):
    class Meta(_CustomersItem.Meta):
        abstract = False

    customer_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    earned = NumberAttribute(default=0)
    earned_at = NumberAttribute(null=True)
    earned_by = UnicodeAttribute(null=True)  # the event id that earned them
    reversed = NumberAttribute(null=True)  # set once: the points a refund or cancel took back
    reversed_at = NumberAttribute(null=True)
    reversed_by = UnicodeAttribute(null=True)

    @staticmethod
    def key(customer_id: str, order_id: str) -> str:
        return f"{POINTS_PREFIX}{customer_id}#{order_id}"


def customer_ref(shop_id: str, customer_id: str) -> Customer:
    """The customer item to update (no read)."""
    return Customer(shop_id, Customer.key(customer_id))


def get_customer(shop_id: str, customer_id: str) -> Customer | None:
    try:
        return Customer.get(shop_id, Customer.key(customer_id), consistent_read=True)
    except Customer.DoesNotExist:
        return None


def customers_chunk(
    shop_id: str, cursor: dict[str, Any] | None, limit: int
) -> tuple[list[Customer], dict[str, Any] | None]:
    """One chunk of the shop's customers in key order (a Query on the partition with
    `begins_with CUSTOMER#`, projected to what tiers read), and the cursor after it."""
    result = Customer.query(
        shop_id,
        Customer.sk.startswith(CUSTOMER_PREFIX),
        limit=limit,
        last_evaluated_key=cursor,
        attributes_to_get=list(TIER_INPUTS),
    )
    items = list(result)
    return items, result.last_evaluated_key


def tier_condition(previous: str | None):  # noqa: ANN201 - pynamodb condition
    """The write's guard: the tier is still the one the computation started from, so two
    recomputations at once agree (the loser re-reads and finds nothing left to change)."""
    if previous is None:
        return Customer.sk.exists() & Customer.tier.does_not_exist()
    return Customer.sk.exists() & (Customer.tier == previous)


def tier_actions(
    *,
    tier: str | None,
    rfm: dict[str, int] | None,
    member_level: str | None,
    change: dict[str, Any] | None,
) -> list[Any]:
    """Every attribute a recomputation writes. `change` (the tier moved) also sets
    tier_changed_at and the last change record; `tier` None leaves the tier alone."""
    actions: list[Any] = []
    if tier is not None:
        actions.append(Customer.tier.set(tier))
    actions.append(Customer.rfm.set(rfm) if rfm is not None else Customer.rfm.remove())
    if member_level is not None:
        actions.append(Customer.member_level.set(member_level))
    if change is not None:
        actions += [
            Customer.tier_changed_at.set(change["at"]),
            Customer.tier_change.set(change),
        ]
    return actions


def points_action(delta: int) -> Any:
    return Customer.points.add(delta)
