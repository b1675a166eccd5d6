"""Specification: POST /v1/shop-events over HTTP — only a request signed with the shop's own
shop-events key, fresh, is applied; every answer is the documented one."""

import json
import time

import pytest
from kefu import orders
from kefu.shop_events.signature import sign

from tests.support.factories import enable_shop_events, make_shop

URL = "/v1/shop-events"


def _paid(event_id="e-1", order_id="SO-1"):
    return {
        "event_id": event_id,
        "type": "order.paid",
        "occurred_at": 1_732_000_000_000,
        "customer": {"wechat_openid": "o-1"},
        "order": {"order_id": order_id, "amount": "99.00"},
    }


def _post(gateway, shop_id, payload, *, key=None, timestamp=None, headers=None):
    raw = json.dumps(payload, ensure_ascii=False).encode()
    signed = {
        "X-Kefu-Shop": shop_id,
        "X-Kefu-Signature": sign(key or f"{shop_id}-shop-events-key", raw, timestamp),
    }
    return gateway.post(URL, body=raw, headers={**signed, **(headers or {})})


@pytest.fixture
def shop(kefu_env):
    make_shop("shop-a")
    enable_shop_events("shop-a")
    return "shop-a"


def test_a_signed_event_is_accepted_with_202_and_applied(gateway, shop):
    answer = _post(gateway, shop, _paid())
    assert answer.status == 202, answer.text
    assert answer.json() == {
        "accepted": 1,
        "duplicates": 0,
        "results": [{"event_id": "e-1", "status": "accepted"}],
    }
    assert orders.order(shop, "SO-1")["status"] == "paid"


def test_the_same_request_sent_again_answers_duplicate(gateway, shop):
    _post(gateway, shop, _paid())
    again = _post(gateway, shop, _paid())
    assert again.status == 202
    assert again.json()["results"] == [{"event_id": "e-1", "status": "duplicate"}]


def test_a_signature_over_another_body_is_refused(gateway, shop):
    raw = json.dumps(_paid()).encode()
    tampered = raw.replace(b"99.00", b"0.01")
    answer = gateway.post(
        URL,
        body=tampered,
        headers={"X-Kefu-Shop": shop, "X-Kefu-Signature": sign("shop-a-shop-events-key", raw)},
    )
    assert answer.status == 401 and answer.error["code"] == "bad_signature"
    assert orders.order(shop, "SO-1") is None


def test_a_stale_signature_is_refused_even_when_it_matches(gateway, shop):
    answer = _post(gateway, shop, _paid(), timestamp=int(time.time()) - 301)
    assert answer.status == 401 and answer.error["code"] == "stale_signature"
    future = _post(gateway, shop, _paid(), timestamp=int(time.time()) + 301)
    assert future.error["code"] == "stale_signature"


def test_a_signature_four_minutes_old_is_still_fresh(gateway, shop):
    assert _post(gateway, shop, _paid(), timestamp=int(time.time()) - 240).status == 202


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_signature"),
        ("abc", "malformed_signature"),
        ("t=123", "malformed_signature"),
        ("v1=" + "0" * 64, "malformed_signature"),
        ("t=1732000000,v1=日本", "malformed_signature"),
    ],
)
def test_a_missing_or_malformed_signature_is_refused(gateway, shop, header, code):
    headers = {"X-Kefu-Shop": shop}
    if header is not None:
        headers["X-Kefu-Signature"] = header
    answer = gateway.post(URL, json_body=_paid(), headers=headers)
    assert answer.status == 401 and answer.error["code"] == code


def test_a_request_naming_no_shop_is_refused(gateway, shop):
    raw = json.dumps(_paid()).encode()
    answer = gateway.post(URL, body=raw, headers={"X-Kefu-Signature": sign("k", raw)})
    assert answer.status == 401 and answer.error["code"] == "missing_shop"


def test_shop_as_key_cannot_post_for_shop_b(gateway, shop):
    make_shop("shop-b")
    enable_shop_events("shop-b")
    answer = _post(gateway, "shop-b", _paid(), key="shop-a-shop-events-key")
    assert answer.status == 401 and answer.error["code"] == "bad_signature"
    assert orders.order("shop-b", "SO-1") is None and orders.order("shop-a", "SO-1") is None


def test_a_shop_without_a_key_answers_403_not_configured(gateway, kefu_env):
    make_shop("shop-c")
    answer = _post(gateway, "shop-c", _paid())
    assert answer.status == 403 and answer.error["code"] == "shop_events_disabled"
    assert answer.error["message"] == "shop events are not configured"


def test_an_unknown_shop_answers_404(gateway, kefu_env):
    answer = _post(gateway, "no-such-shop", _paid())
    assert answer.status == 404 and answer.error["code"] == "shop_not_found"


def test_an_invalid_event_in_a_batch_answers_400_naming_its_index_and_applies_nothing(
    gateway, shop
):
    bad = {**_paid("e-2", "SO-2"), "type": "order.teleported"}
    answer = _post(gateway, shop, {"events": [_paid(), bad]})
    assert answer.status == 400
    assert answer.error["code"] == "validation_error" and answer.error["index"] == 1
    assert "order.teleported" in answer.error["message"]
    assert "known types: order.created, order.paid" in answer.error["message"]
    assert orders.order(shop, "SO-1") is None


def test_a_body_that_is_not_json_answers_400(gateway, shop):
    raw = b"{not json"
    answer = gateway.post(
        URL,
        body=raw,
        headers={"X-Kefu-Shop": shop, "X-Kefu-Signature": sign("shop-a-shop-events-key", raw)},
    )
    assert answer.status == 400 and answer.error["code"] == "malformed_json"


def test_a_body_that_is_not_declared_json_answers_415(gateway, shop):
    raw = json.dumps(_paid()).encode()
    answer = gateway.post(
        URL,
        body=raw,
        headers={
            "Content-Type": "text/plain",
            "X-Kefu-Shop": shop,
            "X-Kefu-Signature": sign("shop-a-shop-events-key", raw),
        },
    )
    assert answer.status == 415


def test_an_event_bus_failure_answers_503_and_the_retry_completes(
    gateway, shop, kefu_env, monkeypatch
):
    import kefu.shop_events as shop_events
    from kefu.events import PublishFailed

    def refuse(*events):
        raise PublishFailed("EventBridge rejected 1 event(s)")

    working = shop_events.publish
    monkeypatch.setattr(shop_events, "publish", refuse)
    failed = _post(gateway, shop, _paid())
    assert failed.status == 503 and failed.error["code"] == "publish_failed"
    monkeypatch.setattr(shop_events, "publish", working)

    retry = _post(gateway, shop, _paid())
    assert retry.json()["results"] == [{"event_id": "e-1", "status": "duplicate"}]
    assert [e["event_id"] for e in kefu_env.events("shop.order_paid")] == ["shop.order_paid:e-1"]
