"""The shop's back end reports an order through the local stack (gateway -> ShopEventsFunction ->
OrdersTable), signed as docs/shop-events.md shows; the demo data holds 小明's shipped parcel."""

from __future__ import annotations

import json
import time

import pytest
from kefu import orders
from kefu.customers import APP_USER, Identity, find_identity
from kefu.shop_events.signature import sign

from infra.local import demo_data
from tests.integration.kefu_http import Api, unique

pytestmark = pytest.mark.integration


def _post(api: Api, shop_id: str, payload: dict, key: str = demo_data.SHOP_EVENTS_KEY):
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return api.post(
        "/v1/shop-events",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Kefu-Shop": shop_id,
            "X-Kefu-Signature": sign(key, raw),
        },
    )


def test_a_signed_order_event_is_applied_once_and_read_back(api: Api):
    user, order_id = unique("u"), unique("SO")
    shipped = {
        "event_id": unique("evt"),
        "type": "order.shipped",
        "occurred_at": int(time.time() * 1000),
        "customer": {"app_user_id": user},
        "order": {"order_id": order_id, "amount": "158.00"},
        "carrier": "顺丰速运",
        "tracking_number": "SF9876543210",
    }

    first = _post(api, "demo", shipped)
    again = _post(api, "demo", shipped)

    assert first.status_code == 202, first.text
    assert first.json()["results"] == [{"event_id": shipped["event_id"], "status": "accepted"}]
    assert again.json()["results"] == [{"event_id": shipped["event_id"], "status": "duplicate"}]
    customer_id = find_identity("demo", Identity(APP_USER, user)).customer_id
    [recent] = orders.recent_orders("demo", customer_id)
    assert (recent["order_id"], recent["status"], recent["tracking_number"]) == (
        order_id,
        "shipped",
        "SF9876543210",
    )


def test_another_shops_key_is_refused(api: Api):
    event = {
        "event_id": unique("evt"),
        "type": "order.paid",
        "occurred_at": int(time.time() * 1000),
        "customer": {"app_user_id": unique("u")},
        "order": {"order_id": unique("SO")},
    }
    resp = _post(api, "demo-2", event, key="not-demo-2s-key")
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "bad_signature"


def test_the_demo_data_has_xiaomings_parcel_on_its_way():
    parcel = orders.order("demo", "DEMO-1001")
    assert parcel["status"] == "shipped" and parcel["carrier"] == "顺丰速运"
    assert [u["status"] for u in parcel["logistics"]] == ["运输中", "已揽收"]
    assert orders.order("demo", "DEMO-1002")["status"] == "paid"
