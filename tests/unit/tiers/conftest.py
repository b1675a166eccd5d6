"""A shop with a customer whose purchase summary the test sets (as the profiles part's
shop-events transaction keeps it), and order events as the bus delivers them to tiers."""

from __future__ import annotations

import pytest
from kefu import events
from kefu.ids import now_ms
from kefu.storage.customers import Customer

from tests.support.factories import customer_says, make_shop, make_staff

SHOP = "shop-a"
DAY_MS = 86_400_000


@pytest.fixture
def shop(kefu_env):
    make_shop(SHOP)
    return {"sup": make_staff(SHOP, "sup", "supervisor"), "env": kefu_env}


def new_customer(openid: str = "o-1") -> str:
    return customer_says(SHOP, openid, "在吗").customer_id


def set_summary(customer_id: str, orders: int, yuan: int, days_ago: float = 1) -> None:
    Customer(SHOP, Customer.key(customer_id)).update(
        actions=[
            Customer.orders_count.set(orders),
            Customer.total_spent.set(yuan * 100),
            Customer.last_purchase_at.set(now_ms() - int(days_ago * DAY_MS)),
        ]
    )


def customer(customer_id: str) -> Customer:
    return Customer.get(SHOP, Customer.key(customer_id), consistent_read=True)


def order_event(
    customer_id: str,
    kind: str,
    order_id: str,
    *,
    status: str,
    amount: str = "100.00",
    shop_event_id: str | None = None,
    **extra: object,
) -> events.Event:
    shop_event_id = shop_event_id or f"{order_id}-{kind}"
    return events.decode(
        {
            "event_id": f"shop.{kind}:{shop_event_id}",
            "type": f"shop.{kind}",
            "shop_id": SHOP,
            "occurred_at": now_ms(),
            "data": {
                "customer_id": customer_id,
                "shop_event_id": shop_event_id,
                "order_id": order_id,
                "status_applied": True,
                "order": {"order_id": order_id, "status": status, "amount": amount},
                **extra,
            },
        }
    )
