"""OrdersTable: what the shop's own back end tells kefu about a customer's orders and shopping.

pk = "<shop>#<customer_id>"
sk = "ORDER#<order_id>"                   the order's current state, its latest logistics updates
sk = "ACTIVITY#<13-digit ms>#<event_id>"  a cart change or a product view; expires by TTL
                                          (`expires_at`, epoch seconds, 90 days)
sk = "RECENT"                             the latest 10 of those, in one item: read by key beside
                                          the customer (the workbench's context, one BatchGetItem)
GSI by_order   shop_order = "<shop>#<order_id>"  sort updated_at: an order found by its id alone
LSI by_placed  pk  sort placed_at (orders only):  a customer's orders, newest first, one Query

An order is rewritten whole on each event (it is small: the latest 20 logistics updates at most),
guarded by `revision`, so two events for one order applied at once cannot lose either.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex

from kefu.storage.base import KefuModel, table_name

ORDER_PREFIX = "ORDER#"
ACTIVITY_PREFIX = "ACTIVITY#"
RECENT = "RECENT"
MAX_RECENT_ACTIVITY = 10
MAX_LOGISTICS = 20
ACTIVITY_TTL_SECONDS = 90 * 24 * 3600


def customer_key(shop_id: str, customer_id: str) -> str:
    return f"{shop_id}#{customer_id}"


def order_key(shop_id: str, order_id: str) -> str:
    """by_order's partition key (shop_order): an order found by its id alone."""
    return f"{shop_id}#{order_id}"


class _ByOrder(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_order"
        projection = AllProjection()

    shop_order = UnicodeAttribute(hash_key=True)
    updated_at = NumberAttribute(range_key=True)


class _ByPlaced(LocalSecondaryIndex):
    class Meta:
        index_name = "by_placed"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    placed_at = NumberAttribute(range_key=True)


class OrderLine(MapAttribute):
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    quantity = NumberAttribute()
    price = UnicodeAttribute(null=True)  # yuan, as the shop sent it ("79.00")
    seller_shop_id = UnicodeAttribute(null=True)  # the merchant of a multi-merchant mall


class LogisticsUpdate(MapAttribute):
    event_id = UnicodeAttribute()  # the shop's event: one update is kept once
    status = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    location = UnicodeAttribute(null=True)
    at = NumberAttribute()


class _OrdersItem(KefuModel):
    class Meta(KefuModel.Meta):
        abstract = True
        table_name = table_name("ORDERS_TABLE", "kefu-orders")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    shop_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()


class Order(_OrdersItem):
    class Meta(_OrdersItem.Meta):
        abstract = False

    order_id = UnicodeAttribute()
    shop_order = UnicodeAttribute()
    status = UnicodeAttribute()  # kefu's: created, paid, shipped, delivered, refund_requested,
    #                              refunded, cancelled
    shop_status = UnicodeAttribute(null=True)  # the shop's own label (待发货), if it sent one
    amount = UnicodeAttribute(null=True)
    items = ListAttribute(of=OrderLine, default=list)
    carrier = UnicodeAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)
    logistics = ListAttribute(of=LogisticsUpdate, default=list)  # oldest first, latest 20
    refund_amount = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)  # of the refund request or the cancellation
    placed_at = NumberAttribute()
    # When the event that set `status` occurred: an older event never moves the status back.
    last_event_at = NumberAttribute()
    updated_at = NumberAttribute()
    revision = NumberAttribute(default=0)
    # When the customer's purchase summary counted this order as a purchase / its refund
    # (kefu.customers.summary): each is counted once.
    counted_at = NumberAttribute(null=True)
    refund_counted_at = NumberAttribute(null=True)

    by_order = _ByOrder()
    by_placed = _ByPlaced()

    order_key = staticmethod(order_key)

    @staticmethod
    def key(order_id: str) -> str:
        return f"{ORDER_PREFIX}{order_id}"


class Activity(_OrdersItem):
    class Meta(_OrdersItem.Meta):
        abstract = False

    event_id = UnicodeAttribute()
    type = UnicodeAttribute()  # cart.item_added, cart.item_removed, product.viewed
    product_id = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    price = UnicodeAttribute(null=True)
    quantity = NumberAttribute(null=True)
    occurred_at = NumberAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(occurred_at: int, event_id: str) -> str:
        return f"{ACTIVITY_PREFIX}{occurred_at:013d}#{event_id}"


class RecentActivityEntry(MapAttribute):
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    product_id = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    price = UnicodeAttribute(null=True)
    quantity = NumberAttribute(null=True)
    occurred_at = NumberAttribute()


class RecentActivity(_OrdersItem):
    """A customer's latest browsing and cart events (newest first, at most 10), rewritten whole
    in the transaction that records each one, guarded by `revision`. In the customer's own
    partition of OrdersTable, so a busy shop's browsing never writes its customers' partition."""

    class Meta(_OrdersItem.Meta):
        abstract = False

    entries = ListAttribute(of=RecentActivityEntry, default=list)
    revision = NumberAttribute(default=0)
    expires_at = NumberAttribute()
