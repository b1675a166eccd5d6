"""Specification: the purchase summary on the customer moves in the transaction that applies a
shop event — a paid order counts once, an approved refund once, a replay changes nothing — and
the lifecycle stage follows it unless staff overrode it."""

import json

import msgspec
from kefu.customers import profiles
from kefu.customers.fields import ProfileChange
from kefu.ids import now_ms
from kefu.shop_events import ingest
from kefu.shop_events.payloads import decode_events

T0 = 1_700_000_000_000


def send(*events):
    return ingest("shop-a", decode_events(json.dumps({"events": list(events)}).encode()))


def order_event(event_id, type_, order_id, at, **extra):
    order = {"order_id": order_id, **extra.pop("order", {})}
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "customer": {"app_user_id": "alice"},
        "order": order,
        **extra,
    }


def summary_of(crm):
    return profiles.get_profile("shop-a", crm["alice"], crm["agent"])


SHOES = {
    "amount": "199.00",
    "created_at": T0,
    "items": [
        {"product_id": "p1", "title": "跑鞋", "category": "鞋", "quantity": 1, "price": "199.00"}
    ],
}


def test_a_paid_order_counts_once_whatever_events_follow_or_repeat(crm):
    send(order_event("e1", "order.created", "SO-1", T0, order=SHOES))
    assert summary_of(crm)["purchase_summary"]["orders_count"] == 0  # created, not paid
    assert summary_of(crm)["lifecycle_stage"] == "prospect"

    send(order_event("e2", "order.paid", "SO-1", T0 + 1))
    send(order_event("e2", "order.paid", "SO-1", T0 + 1))  # a replay
    send(order_event("e3", "order.shipped", "SO-1", T0 + 2, carrier="顺丰", tracking_number="SF1"))
    send(order_event("e4", "order.delivered", "SO-1", T0 + 3))
    got = summary_of(crm)
    assert got["purchase_summary"] == {
        "orders_count": 1,
        "total_spent": 19900,
        "avg_order_value": 19900,
        "refunds_count": 0,
        "first_purchase_at": T0,
        "last_purchase_at": T0,
        "categories": ["鞋"],
    }
    assert got["lifecycle_stage"] == "ordered"


def test_a_second_order_makes_a_repeat_customer_and_a_refund_an_after_sales_one(crm):
    send(
        order_event("e1", "order.paid", "SO-1", T0, order=SHOES),
        order_event(
            "e2", "order.paid", "SO-2", T0 + 10, order={"amount": "50.50", "created_at": T0 + 10}
        ),
    )
    got = summary_of(crm)
    assert got["purchase_summary"]["orders_count"] == 2
    assert got["purchase_summary"]["total_spent"] == 24950
    assert got["purchase_summary"]["avg_order_value"] == 12475
    assert got["purchase_summary"]["last_purchase_at"] == T0 + 10
    assert got["lifecycle_stage"] == "repeat"

    send(order_event("e3", "refund.approved", "SO-2", T0 + 20, refund_amount="20.00"))
    send(order_event("e3", "refund.approved", "SO-2", T0 + 20, refund_amount="20.00"))
    got = summary_of(crm)
    assert got["purchase_summary"]["refunds_count"] == 1
    assert got["purchase_summary"]["total_spent"] == 22950
    assert got["lifecycle_stage"] == "after_sales"


def test_a_cancelled_unpaid_order_is_no_purchase(crm):
    send(
        order_event("e1", "order.created", "SO-1", T0, order=SHOES),
        order_event("e2", "order.cancelled", "SO-1", T0 + 1, reason="不想要了"),
    )
    assert summary_of(crm)["purchase_summary"]["orders_count"] == 0


def test_an_overridden_stage_stays_while_the_summary_moves(crm):
    profiles.update_profile(
        crm["agent"],
        crm["alice"],
        msgspec.convert({"lifecycle_stage": "after_sales"}, ProfileChange),
    )
    send(order_event("e1", "order.paid", "SO-1", T0, order=SHOES))
    got = summary_of(crm)
    assert got["purchase_summary"]["orders_count"] == 1
    assert got["lifecycle_stage"] == "after_sales"


def test_the_profile_shows_the_order_s_whole_logistics_trail_and_browsing(crm):
    send(
        order_event("e1", "order.shipped", "SO-1", T0, carrier="顺丰", tracking_number="SF1"),
        order_event(
            "e2", "logistics.updated", "SO-1", T0 + 1, status="in_transit", description="到达深圳"
        ),
        order_event(
            "e3",
            "logistics.updated",
            "SO-1",
            T0 + 2,
            status="out_for_delivery",
            description="派送中",
        ),
        {
            "event_id": "v1",
            "type": "product.viewed",
            "occurred_at": now_ms(),  # activity older than 90 days is not shown
            "customer": {"app_user_id": "alice"},
            "product_id": "p9",
            "title": "羽绒服",
        },
    )
    got = summary_of(crm)
    (order,) = got["recent_orders"]
    assert [u["description"] for u in order["logistics"]] == ["派送中", "到达深圳"]
    assert [a["product_id"] for a in got["recent_activity"]] == ["p9"]
