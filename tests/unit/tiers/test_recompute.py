"""Specification: an order event recomputes the customer's scores and tier from the purchase
summary, writes a change with its time and announces it once; points are earned once per order
and taken back once on its refund; a repeated event changes nothing and re-announces the change
it caused under the same id."""

from __future__ import annotations

import threading

import msgspec
from kefu.tiers import settings as tier_settings
from kefu.tiers.recompute import apply, on_order_event
from kefu.tiers.rules import TierSettings

from tests.unit.tiers.conftest import (
    SHOP,
    customer,
    new_customer,
    order_event,
    set_summary,
)


def _use_points(sup, **fields) -> None:
    body = msgspec.convert({"points_enabled": True, **fields}, tier_settings.TierSettingsPut)
    tier_settings.put_settings(sup, body)


def test_an_order_event_raises_the_tier_and_announces_it_once(shop):
    cid = new_customer()
    set_summary(cid, orders=12, yuan=8000)

    outcome = on_order_event(order_event(cid, "order_paid", "SO-1", status="paid"))

    stored = customer(cid)
    assert outcome["changed"] is True
    assert (stored.tier, stored.rfm.as_dict()) == ("high_value", {"r": 5, "f": 5, "m": 5})
    assert stored.tier_changed_at == stored.tier_change["at"]
    [announced] = shop["env"].events("customer.tier_changed")
    assert announced["event_id"] == f"customer.tier_changed:{cid}:{stored.tier_changed_at}"
    assert announced["data"]["old_tier"] == "regular"
    assert announced["data"]["new_tier"] == "high_value"
    assert announced["data"]["cause"] == "shop.order_paid:SO-1-order_paid"
    assert announced["data"]["open_conversation_id"] == stored.open_conversation_id


def test_a_repeated_event_writes_nothing_and_announces_the_same_change_again(shop):
    cid = new_customer()
    set_summary(cid, orders=1, yuan=80)
    event = order_event(cid, "order_paid", "SO-1", status="paid")
    on_order_event(event)
    changed_at = customer(cid).tier_changed_at

    again = on_order_event(event)

    assert again["changed"] is False and customer(cid).tier_changed_at == changed_at
    ids = [e["event_id"] for e in shop["env"].events("customer.tier_changed")]
    assert len(ids) == 2 and ids[0] == ids[1]  # consumers drop the repeat by its id


def test_an_event_that_changes_no_score_changes_nothing(shop):
    cid = new_customer()
    set_summary(cid, orders=1, yuan=80)
    on_order_event(order_event(cid, "order_paid", "SO-1", status="paid"))
    on_order_event(order_event(cid, "order_shipped", "SO-1", status="shipped"))
    assert len(shop["env"].events("customer.tier_changed")) == 1


def test_concurrent_recomputations_agree_and_announce_one_change(shop):
    cid = new_customer()
    set_summary(cid, orders=12, yuan=8000)
    stale = customer(cid)
    settings = tier_settings.load(SHOP)
    results = []

    def run(cause: str) -> None:
        results.append(apply(SHOP, stale, settings, now=stale.created_at + 1, cause=cause))

    # Four different events for one customer, handled at once from the same stale read.
    threads = [threading.Thread(target=run, args=(f"event-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(r is not None for r in results) == 1
    assert customer(cid).tier == "high_value"
    assert len(shop["env"].events("customer.tier_changed")) == 1


def test_without_a_summary_on_the_item_the_customers_orders_are_summarised(shop):
    from tests.support.factories import enable_shop_events

    enable_shop_events(SHOP)
    from kefu.shop_events import ingest
    from kefu.shop_events.payloads import decode_events

    cid = new_customer("o-summary")
    raw = msgspec.json.encode(
        {
            "events": [
                {
                    "event_id": f"e-{n}",
                    "type": "order.paid",
                    "occurred_at": 1_800_000_000_000 + n,
                    "customer": {"wechat_openid": "o-summary"},
                    "order": {"order_id": f"SO-{n}", "amount": "3000.00"},
                }
                for n in range(10)
            ]
        }
    )
    ingest(SHOP, decode_events(raw))

    on_order_event(order_event(cid, "order_paid", "SO-9", status="paid"))

    assert customer(cid).rfm.as_dict()["f"] == 5  # ten paid orders, read from OrdersTable


def test_points_are_earned_once_per_order_and_taken_back_once_on_refund(shop):
    _use_points(shop["sup"], points_per_yuan=2)
    cid = new_customer()
    set_summary(cid, orders=1, yuan=100)

    on_order_event(order_event(cid, "order_paid", "SO-1", status="paid", amount="100.00"))
    on_order_event(order_event(cid, "order_shipped", "SO-1", status="shipped", amount="100.00"))
    on_order_event(order_event(cid, "order_paid", "SO-1", status="paid", amount="100.00"))
    assert customer(cid).points == 200

    refund = order_event(cid, "refund_approved", "SO-1", status="refunded", refund_amount="40.00")
    on_order_event(refund)
    on_order_event(refund)
    assert customer(cid).points == 120


def test_an_order_refunded_before_its_payment_arrives_earns_nothing(shop):
    _use_points(shop["sup"])
    cid = new_customer()
    set_summary(cid, orders=1, yuan=100)
    on_order_event(order_event(cid, "order_cancelled", "SO-1", status="cancelled"))
    on_order_event(order_event(cid, "order_paid", "SO-1", status="paid"))
    assert int(customer(cid).points or 0) == 0


def test_the_member_level_follows_the_points(shop):
    _use_points(shop["sup"], points_per_yuan=1)
    cid = new_customer()
    set_summary(cid, orders=1, yuan=1500)
    on_order_event(order_event(cid, "order_paid", "SO-1", status="paid", amount="1500.00"))
    assert (customer(cid).points, customer(cid).member_level) == (1500, "silver")


def test_the_shops_own_tiers_are_what_customers_get(shop):
    body = msgspec.convert(
        {
            "tiers": [
                {"tier_id": "vip", "name": "贵宾", "m": [4, 5]},
                {"tier_id": "fans", "name": "粉丝"},
            ]
        },
        tier_settings.TierSettingsPut,
    )
    tier_settings.put_settings(shop["sup"], body)
    assert isinstance(body, TierSettings)
    cid = new_customer()
    set_summary(cid, orders=1, yuan=2500)
    on_order_event(order_event(cid, "order_paid", "SO-1", status="paid"))
    assert customer(cid).tier == "vip"
