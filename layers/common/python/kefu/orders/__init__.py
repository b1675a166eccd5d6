"""Reading what the shop told kefu about a customer's orders and shopping (written by
kefu.shop_events): the orders half of the customer context beside a conversation, and what the
bot answers "where is my parcel" from. Every read is one Query on a key or index.

These functions take a shop id the caller has already scoped to its actor: the HTTP layer that
exposes them checks the permission.
"""

from __future__ import annotations

from typing import Any

from kefu.ids import now_ms
from kefu.storage.orders import (
    ACTIVITY_PREFIX,
    ACTIVITY_TTL_SECONDS,
    Activity,
    LogisticsUpdate,
    Order,
    RecentActivity,
    customer_key,
)


def recent_orders(shop_id: str, customer_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """The customer's orders, newest placed first, each with its latest logistics update."""
    found = Order.by_placed.query(
        customer_key(shop_id, customer_id), scan_index_forward=False, limit=limit
    )
    return [order_summary(o) for o in found]


def recent_orders_with_trail(
    shop_id: str, customer_id: str, limit: int = 5
) -> list[dict[str, Any]]:
    """As recent_orders, each with its whole logistics trail (newest first): same one Query."""
    found = Order.by_placed.query(
        customer_key(shop_id, customer_id), scan_index_forward=False, limit=limit
    )
    return [order_view(o) for o in found]


def order(shop_id: str, order_id: str) -> dict[str, Any] | None:
    """One order by its id (whoever the customer), with every logistics update kept."""
    for found in Order.by_order.query(
        Order.order_key(shop_id, order_id), scan_index_forward=False, limit=1
    ):
        return order_view(found)
    return None


def recent_activity(shop_id: str, customer_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """Cart changes and product views, newest first (90 days are kept)."""
    now_s = now_ms() // 1000
    found = Activity.query(
        customer_key(shop_id, customer_id),
        Activity.sk.startswith(ACTIVITY_PREFIX),
        scan_index_forward=False,
        limit=limit,
    )
    # TTL deletion lags expiry by up to a couple of days: hide what has expired.
    return [activity_view(a) for a in found if a.expires_at > now_s]


def recent_activity_entries(recent: RecentActivity | None) -> list[dict[str, Any]]:
    """The latest activity kept in the customer's RECENT item (read by key), newest first."""
    if recent is None:
        return []
    cutoff = now_ms() - ACTIVITY_TTL_SECONDS * 1000
    return [
        {
            "type": e.type,
            "event_id": e.event_id,
            "product_id": e.product_id,
            "title": e.title,
            "category": e.category,
            "price": e.price,
            "quantity": e.quantity,
            "occurred_at": e.occurred_at,
        }
        for e in recent.entries or []
        if e.occurred_at > cutoff
    ]


def _logistics(update: LogisticsUpdate) -> dict[str, Any]:
    return {
        "status": update.status,
        "description": update.description,
        "location": update.location,
        "at": update.at,
    }


def order_summary(o: Order) -> dict[str, Any]:
    latest = o.logistics[-1] if o.logistics else None
    return {
        "order_id": o.order_id,
        "customer_id": o.customer_id,
        "status": o.status,
        "shop_status": o.shop_status,
        "amount": o.amount,
        "items": [
            {k: v for k, v in line.as_dict().items() if v is not None} for line in o.items or []
        ],
        "carrier": o.carrier,
        "tracking_number": o.tracking_number,
        "latest_logistics": _logistics(latest) if latest else None,
        "refund_amount": o.refund_amount,
        "reason": o.reason,
        "placed_at": o.placed_at,
        "updated_at": o.updated_at,
    }


def order_view(o: Order) -> dict[str, Any]:
    """The summary plus the logistics trail, newest first, as a parcel tracker shows it."""
    return {
        **order_summary(o),
        "logistics": [_logistics(u) for u in reversed(o.logistics or [])],
        "last_event_at": o.last_event_at,
    }


def activity_view(a: Activity) -> dict[str, Any]:
    return {
        "type": a.type,
        "event_id": a.event_id,
        "product_id": a.product_id,
        "title": a.title,
        "category": a.category,
        "price": a.price,
        "quantity": a.quantity,
        "occurred_at": a.occurred_at,
    }
