"""Specification: what the shop's back end reports is applied once, in the right order, to the
right shop's customer — and read back as the customer's orders and recent activity."""

import json
import time

import pytest
from kefu import orders
from kefu.customers import APP_USER, WECHAT_OPENID, Identity, find_identity
from kefu.errors import BadRequest, Forbidden, NotFound, Unauthorized
from kefu.shop_events import receive
from kefu.shop_events.signature import sign
from kefu.storage.customers import Customer
from kefu.storage.orders import Activity, Order, customer_key
from kefu.storage.runtime import ShopEventSeen

from tests.support.factories import enable_shop_events, make_shop

T0 = 1_732_000_000_000
OPENID = "o-xiaoming"


def event(kind, event_id, when=T0, customer=None, **fields):
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": when,
        "customer": customer or {"wechat_openid": OPENID},
        **fields,
    }


def order_event(kind, event_id, when=T0, order_id="SO-1", order=None, **fields):
    return event(kind, event_id, when, order={"order_id": order_id, **(order or {})}, **fields)


def post(shop_id, payload, *, key=None):
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return receive(shop_id, sign(key or f"{shop_id}-shop-events-key", raw), raw)


@pytest.fixture
def shop(kefu_env):
    make_shop("shop-a")
    enable_shop_events("shop-a")
    return "shop-a"


def _customer_id(shop_id, openid=OPENID):
    return find_identity(shop_id, Identity(WECHAT_OPENID, openid)).customer_id


def _order(shop_id, order_id="SO-1"):
    return orders.order(shop_id, order_id)


# ------------------------------------------------------------------------------- accepting


def test_an_order_event_for_an_unknown_customer_creates_the_customer_and_the_order(shop):
    created = order_event(
        "order.created",
        "e-1",
        order={
            "amount": "158.00",
            "status": "待付款",
            "items": [
                {
                    "product_id": "sku-1",
                    "title": "纯棉T恤",
                    "quantity": 2,
                    "price": "79.00",
                    "category": "服装",
                }
            ],
            "created_at": T0 - 5_000,
        },
    )
    answer = post(shop, created)

    assert answer == {
        "accepted": 1,
        "duplicates": 0,
        "results": [{"event_id": "e-1", "status": "accepted"}],
    }
    customer_id = _customer_id(shop)
    assert Customer.get(shop, Customer.key(customer_id)).identities == [f"wechat_openid:{OPENID}"]
    view = _order(shop)
    assert (view["status"], view["shop_status"], view["amount"]) == ("created", "待付款", "158.00")
    assert view["customer_id"] == customer_id and view["placed_at"] == T0 - 5_000
    assert view["items"] == [
        {
            "product_id": "sku-1",
            "title": "纯棉T恤",
            "quantity": 2,
            "price": "79.00",
            "category": "服装",
        }
    ]


def test_an_app_user_is_resolved_by_the_shops_own_user_id(shop):
    post(shop, order_event("order.paid", "e-1", customer={"app_user_id": "u-10086"}))
    identity = find_identity(shop, Identity(APP_USER, "u-10086"))
    assert orders.recent_orders(shop, identity.customer_id)[0]["status"] == "paid"


def test_a_shipped_order_keeps_carrier_and_tracking_number(shop):
    post(shop, order_event("order.paid", "e-1", T0))
    post(
        shop,
        order_event(
            "order.shipped", "e-2", T0 + 1000, carrier="顺丰速运", tracking_number="SF1234567890"
        ),
    )
    view = _order(shop)
    assert (view["status"], view["carrier"], view["tracking_number"]) == (
        "shipped",
        "顺丰速运",
        "SF1234567890",
    )


# ------------------------------------------------------------------------------- idempotency


def test_a_replayed_event_is_a_duplicate_and_changes_nothing(shop, kefu_env):
    shipped = order_event("order.shipped", "e-2", T0, carrier="SF", tracking_number="SF1")
    post(shop, shipped)
    before = Order.get(customer_key(shop, _customer_id(shop)), Order.key("SO-1"))

    again = post(shop, shipped)

    assert again == {
        "accepted": 0,
        "duplicates": 1,
        "results": [{"event_id": "e-2", "status": "duplicate"}],
    }
    after = Order.get(customer_key(shop, _customer_id(shop)), Order.key("SO-1"))
    assert (after.revision, after.updated_at) == (before.revision, before.updated_at)
    # Announced again under the same id, so a first attempt that failed to publish completes.
    ids = {e["event_id"] for e in kefu_env.events("shop.order_shipped")}
    assert ids == {"shop.order_shipped:e-2"}


def test_a_replayed_logistics_update_is_listed_once(shop):
    update = order_event("logistics.updated", "l-1", T0, status="运输中", location="深圳")
    post(shop, update)
    post(shop, {"events": [update, update]})
    assert len(_order(shop)["logistics"]) == 1


def test_the_dedupe_item_expires_after_ninety_days(shop):
    post(shop, order_event("order.paid", "e-1"))
    seen = ShopEventSeen.get(ShopEventSeen.key(shop, "e-1"))
    assert seen.type == "order.paid"
    assert 89 * 86400 < seen.expires_at - time.time() <= 90 * 86400


# ------------------------------------------------------------------------------- batches


def test_a_batch_is_applied_in_order_and_reported_per_event(shop):
    answer = post(
        shop,
        {
            "events": [
                order_event("order.created", "e-1", T0, order={"amount": "10.00"}),
                order_event("order.paid", "e-2", T0 + 1),
                event("product.viewed", "v-1", T0 + 2, product_id="sku-9", title="帽子"),
            ]
        },
    )
    assert answer["accepted"] == 3 and answer["duplicates"] == 0
    assert [r["event_id"] for r in answer["results"]] == ["e-1", "e-2", "v-1"]
    assert _order(shop)["status"] == "paid"


def test_a_batch_with_one_invalid_event_is_rejected_whole_naming_its_index(shop):
    batch = {
        "events": [
            order_event("order.paid", "e-1"),
            order_event("order.shipped", "e-2", carrier="SF"),  # no tracking_number
        ]
    }
    with pytest.raises(BadRequest) as raised:
        post(shop, batch)

    assert raised.value.details == {"index": 1}
    assert "event 1" in raised.value.message and "tracking_number" in raised.value.message
    assert _order(shop) is None
    with pytest.raises(ShopEventSeen.DoesNotExist):
        ShopEventSeen.get(ShopEventSeen.key(shop, "e-1"))


def test_an_unknown_type_is_rejected_listing_the_known_ones(shop):
    with pytest.raises(BadRequest) as raised:
        post(shop, event("order.exploded", "e-1"))
    assert "order.exploded" in raised.value.message
    assert "order.shipped" in raised.value.message and "product.viewed" in raised.value.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": 1_732_000_000}, "occurred_at"),  # seconds, not milliseconds
        ({"customer": {}}, "customer"),
        ({"customer": {"app_user_id": "a", "wechat_openid": "b"}}, "customer"),
        ({"order": {"order_id": "SO-1", "amount": 12.5}}, "amount"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_events_are_rejected_naming_the_field(shop, change, field):
    with pytest.raises(BadRequest) as raised:
        post(shop, {**order_event("order.paid", "e-1"), **change})
    assert field in raised.value.message


def test_more_than_25_events_in_one_batch_are_refused(shop):
    batch = {"events": [order_event("order.paid", f"e-{i}") for i in range(26)]}
    with pytest.raises(BadRequest, match="length"):
        post(shop, batch)


# ------------------------------------------------------------------------------- ordering


def test_an_older_event_arriving_late_does_not_move_the_status_back(shop):
    post(shop, order_event("order.shipped", "e-3", T0 + 3000, carrier="SF", tracking_number="SF1"))
    post(shop, order_event("order.paid", "e-2", T0 + 2000, order={"amount": "99.00"}))
    post(shop, order_event("order.created", "e-1", T0 + 1000, order={"amount": "98.00"}))

    view = _order(shop)
    assert view["status"] == "shipped" and view["last_event_at"] == T0 + 3000
    # What the late events knew, and the shipped event did not, still fills in.
    assert view["amount"] == "99.00"
    assert view["placed_at"] == T0 + 1000


def test_a_newer_event_moves_the_status_on(shop):
    post(shop, order_event("order.shipped", "e-3", T0, carrier="SF", tracking_number="SF1"))
    post(
        shop,
        order_event("refund.requested", "e-4", T0 + 1, refund_amount="10.00", reason="尺码不合适"),
    )
    view = _order(shop)
    assert (view["status"], view["refund_amount"], view["reason"]) == (
        "refund_requested",
        "10.00",
        "尺码不合适",
    )


def test_events_in_the_same_millisecond_settle_on_the_later_stage(shop):
    post(shop, order_event("order.shipped", "e-2", T0, carrier="SF", tracking_number="SF1"))
    post(shop, order_event("order.paid", "e-1", T0))
    assert _order(shop)["status"] == "shipped"


def test_logistics_updates_are_kept_in_the_carriers_time_order_whatever_their_arrival(shop):
    # Sent as they were noticed, stamped with when the carrier recorded them.
    post(shop, order_event("logistics.updated", "l-3", T0 + 1, status="派送中", at=T0 - 10))
    post(shop, order_event("logistics.updated", "l-1", T0 + 2, status="已揽收", at=T0 - 30))
    post(shop, order_event("logistics.updated", "l-2", T0 + 3, status="运输中", at=T0 - 20))

    view = _order(shop)
    assert [u["status"] for u in view["logistics"]] == ["派送中", "运输中", "已揽收"]
    assert view["latest_logistics"]["status"] == "派送中"
    # A logistics update is news of a shipped order even before order.shipped arrives.
    assert view["status"] == "shipped"


def test_only_the_latest_twenty_logistics_updates_are_kept(shop):
    batch = [
        order_event("logistics.updated", f"l-{i:02d}", T0 + i, status=f"s{i}") for i in range(22)
    ]
    post(shop, {"events": batch[:11]})
    post(shop, {"events": batch[11:]})
    trail = _order(shop)["logistics"]
    assert len(trail) == 20
    assert trail[0]["status"] == "s21" and trail[-1]["status"] == "s2"


# ------------------------------------------------------------------------------- activity


def test_cart_and_browsing_are_recorded_as_activity_that_expires_after_ninety_days(shop):
    post(
        shop,
        {
            "events": [
                event(
                    "product.viewed",
                    "v-1",
                    T0,
                    product_id="sku-1",
                    title="T恤",
                    category="服装",
                    price="79.00",
                ),
                event(
                    "cart.item_added",
                    "c-1",
                    T0 + 1,
                    product_id="sku-1",
                    title="T恤",
                    price="79.00",
                    quantity=2,
                ),
                event("cart.item_removed", "c-2", T0 + 2, product_id="sku-1", title="T恤"),
            ]
        },
    )
    customer_id = _customer_id(shop)
    item = Activity.get(customer_key(shop, customer_id), Activity.key(T0 + 1, "c-1"))
    assert item.expires_at == (T0 + 1) // 1000 + 90 * 86400
    assert (item.type, item.quantity, item.price) == ("cart.item_added", 2, "79.00")


def test_recent_activity_is_newest_first_and_hides_what_has_expired(shop):
    now = int(time.time() * 1000)
    post(
        shop,
        {
            "events": [
                event(
                    "product.viewed", "v-old", now - 91 * 86_400_000, product_id="p0", title="旧"
                ),
                event("product.viewed", "v-1", now - 2000, product_id="p1", title="帽子"),
                event("cart.item_added", "c-1", now - 1000, product_id="p1", title="帽子"),
            ]
        },
    )
    activity = orders.recent_activity(shop, _customer_id(shop))
    assert [(a["type"], a["event_id"]) for a in activity] == [
        ("cart.item_added", "c-1"),
        ("product.viewed", "v-1"),
    ]
    assert activity[0]["quantity"] == 1


# ------------------------------------------------------------------------------- reads


def test_recent_orders_are_newest_placed_first_with_their_latest_logistics(shop):
    for i in range(7):
        post(shop, order_event("order.created", f"c-{i}", T0 + i * 1000, order_id=f"SO-{i}"))
    post(
        shop,
        order_event(
            "logistics.updated",
            "l-1",
            T0 + 9000,
            order_id="SO-5",
            status="运输中",
            description="已到达【深圳转运中心】",
        ),
    )

    recent = orders.recent_orders(shop, _customer_id(shop))
    assert [o["order_id"] for o in recent] == ["SO-6", "SO-5", "SO-4", "SO-3", "SO-2"]
    assert recent[1]["latest_logistics"]["description"] == "已到达【深圳转运中心】"
    assert "logistics" not in recent[0]  # the trail is in orders.order()
    assert [o["order_id"] for o in orders.recent_orders(shop, _customer_id(shop), limit=2)] == [
        "SO-6",
        "SO-5",
    ]


def test_an_unknown_order_is_none(shop):
    assert orders.order(shop, "nope") is None


# ------------------------------------------------------------------------------- events


def test_each_accepted_event_is_announced_on_the_bus_with_a_deterministic_id(shop, kefu_env):
    post(
        shop,
        {
            "events": [
                order_event("order.shipped", "e-2", T0, carrier="SF", tracking_number="SF1"),
                order_event("logistics.updated", "l-1", T0 + 1, status="运输中", location="深圳"),
                event("cart.item_added", "c-1", T0 + 2, product_id="sku-1", title="T恤"),
            ]
        },
    )
    shipped = kefu_env.events("shop.order_shipped")
    assert [e["event_id"] for e in shipped] == ["shop.order_shipped:e-2"]
    assert shipped[0]["shop_id"] == shop and shipped[0]["occurred_at"] == T0
    data = shipped[0]["data"]
    assert data["customer_id"] == _customer_id(shop) and data["order_id"] == "SO-1"
    assert data["order"]["tracking_number"] == "SF1" and data["status_applied"] is True
    logistics = kefu_env.events("shop.logistics_updated")[0]["data"]
    assert logistics["logistics"]["location"] == "深圳"
    cart = kefu_env.events("shop.cart_item_added")[0]
    assert cart["event_id"] == "shop.cart_item_added:c-1"
    assert cart["data"]["product_id"] == "sku-1" and cart["data"]["quantity"] == 1


def test_a_late_event_is_announced_as_not_having_moved_the_status(shop, kefu_env):
    post(shop, order_event("order.delivered", "e-4", T0 + 10))
    post(shop, order_event("order.paid", "e-2", T0))
    paid = kefu_env.events("shop.order_paid")[0]["data"]
    assert paid["status_applied"] is False and paid["order"]["status"] == "delivered"


# ------------------------------------------------------------------------------- tenancy


def test_shops_do_not_share_customers_orders_or_event_ids(shop):
    make_shop("shop-b")
    enable_shop_events("shop-b")
    post("shop-a", order_event("order.paid", "e-1", order_id="SO-1"))
    answer = post("shop-b", order_event("order.paid", "e-1", order_id="SO-1"))

    assert answer["accepted"] == 1  # the same event id in another shop is another event
    assert _customer_id("shop-a") != _customer_id("shop-b")
    assert orders.order("shop-a", "SO-1")["customer_id"] == _customer_id("shop-a")
    assert orders.order("shop-b", "SO-1")["customer_id"] == _customer_id("shop-b")


def test_shop_as_key_cannot_post_for_shop_b(shop):
    make_shop("shop-b")
    enable_shop_events("shop-b")
    with pytest.raises(Unauthorized) as raised:
        post("shop-b", order_event("order.paid", "e-1"), key="shop-a-shop-events-key")
    assert raised.value.code == "bad_signature"
    assert orders.order("shop-b", "SO-1") is None


def test_a_shop_without_a_shop_events_key_is_refused(kefu_env):
    make_shop("shop-c")
    with pytest.raises(Forbidden, match="shop events are not configured"):
        post("shop-c", order_event("order.paid", "e-1"))


def test_an_unknown_shop_is_not_found(kefu_env):
    with pytest.raises(NotFound):
        post("shop-zz", order_event("order.paid", "e-1"))
