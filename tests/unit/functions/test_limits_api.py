"""Specification: per-customer message limits and per-shop login limits over HTTP. Beyond a
limit the answer is 429 with Retry-After and nothing is stored; every 2xx was stored."""

import pytest
from kefu import intake, limits
from kefu.shops import clear_cache as clear_shop_cache
from kefu.storage.shops import PROFILE, ShopProfile

from tests.support.factories import make_shop


@pytest.fixture
def clock(monkeypatch):
    """Intake's clock, from the start of a 10-second window: 1 ms per reading, moved by hand."""
    now = {"ms": (intake.now_ms() // 10_000 + 1) * 10_000}

    def tick():
        now["ms"] += 1
        return now["ms"]

    monkeypatch.setattr(intake, "now_ms", tick)
    return now


def _send(gateway, token, n, **extra):
    return gateway.post(
        "/v1/messages", token=token, json_body={"type": "text", "text": f"第{n}条", **extra}
    )


def _stored_texts(gateway, token):
    return [
        m["content"]["text"] for m in gateway.get("/v1/messages", token=token).json()["messages"]
    ]


def _set(shop_id, **settings):
    shop = ShopProfile.get(shop_id, PROFILE)
    shop.update(actions=[getattr(ShopProfile, k).set(v) for k, v in settings.items()])
    clear_shop_cache()


def test_the_21st_message_within_10_seconds_is_429_with_retry_after_and_not_stored(gateway, clock):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    for n in range(20):
        assert _send(gateway, token, n).status == 201
    clock["ms"] += 3_000

    refused = _send(gateway, token, 20)

    assert refused.status == 429, refused.text
    assert refused.headers["Retry-After"] == "7"
    error = refused.error
    assert error["code"] == "rate_limited"
    assert (error["retry_after"], error["limit"], error["window_seconds"]) == (7, 20, 10)
    assert "20 per 10 s" in error["message"] and "not stored" in error["message"]
    assert _stored_texts(gateway, token) == [f"第{n}条" for n in range(20)]


def test_the_count_is_checked_in_dynamodb_not_only_in_this_instance(gateway, clock):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    for n in range(20):
        assert _send(gateway, token, n).status == 201
    limits.clear_cache()  # another Lambda instance: nothing remembered in memory

    refused = _send(gateway, token, 20)

    assert (refused.status, refused.error["code"]) == (429, "rate_limited")
    assert len(_stored_texts(gateway, token)) == 20


def test_after_the_window_the_customer_can_send_again(gateway, clock):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    for n in range(20):
        _send(gateway, token, n)
    assert _send(gateway, token, 20).status == 429

    clock["ms"] += 10_000
    again = _send(gateway, token, 21)

    assert again.status == 201, again.text
    assert _stored_texts(gateway, token)[-1] == "第21条"


def test_the_limit_is_per_customer(gateway, clock):
    make_shop("shop-a")
    alice = gateway.customer_token("shop-a", "alice")
    bob = gateway.customer_token("shop-a", "bob")
    for n in range(20):
        _send(gateway, alice, n)
    assert _send(gateway, alice, 20).status == 429
    assert _send(gateway, bob, 0).status == 201


def test_the_shop_setting_changes_the_limit(gateway, clock):
    make_shop("shop-a")
    _set("shop-a", customer_message_limit=3)
    token = gateway.customer_token("shop-a")
    assert [_send(gateway, token, n).status for n in range(4)] == [201, 201, 201, 429]

    _set("shop-a", customer_message_limit=30)
    limits.clear_cache()
    assert _send(gateway, token, 4).status == 201


def test_a_retry_of_a_stored_message_is_not_counted_and_still_answers_200(gateway, clock):
    make_shop("shop-a")
    _set("shop-a", customer_message_limit=2)
    token = gateway.customer_token("shop-a")
    first = _send(gateway, token, 0, client_message_id="c-0")
    retries = [_send(gateway, token, 0, client_message_id="c-0") for _ in range(3)]
    assert first.status == 201
    assert [r.status for r in retries] == [200, 200, 200]
    assert _send(gateway, token, 1).status == 201  # the retries did not use up the limit
    # Over the limit now; a retry of the first is still the first, nothing new stored.
    limits.clear_cache()
    again = _send(gateway, token, 0, client_message_id="c-0")
    assert again.status == 200 and again.json()["duplicate"] is True
    assert _send(gateway, token, 2).status == 429
    assert _stored_texts(gateway, token) == ["第0条", "第1条"]


def test_wechat_pushes_are_never_refused_by_the_limit(gateway, clock, kefu_env):
    """WeChat does not understand a 429 (it retries, then drops the message): every
    authentic push is stored and answered success."""
    from tests.unit.functions.test_intake_api import _push, _text_push, _wechat_messages

    make_shop("shop-a")
    _set("shop-a", customer_message_limit=2)
    for n in range(4):
        query, raw, ctype = _push(
            _text_push(msg_id=1000 + n, text=f"推送{n}"), fmt="json", secure=True
        )
        answer = gateway.post(
            "/v1/wechat/shop-a/push", query=query, body=raw, headers={"Content-Type": ctype}
        )
        assert (answer.status, answer.text) == (200, "success")
    assert len(_wechat_messages("shop-a", "oUser-1")) == 4


# ------------------------------------------------------------------------ logins


def test_customer_logins_beyond_the_shops_limit_per_minute_are_429(gateway, monkeypatch):
    make_shop("shop-a")
    make_shop("shop-b")
    _set("shop-a", customer_login_limit=3)
    start = (intake.now_ms() // 60_000 + 1) * 60_000
    now = {"ms": start}
    monkeypatch.setattr(limits.time, "time", lambda: now["ms"] / 1000)

    answers = [gateway.app_login("shop-a", f"u-{n}") for n in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.error["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "60"
    assert refused.error["limit"] == 3
    # Another shop's logins are not affected.
    assert gateway.app_login("shop-b", "u-1").status == 200

    now["ms"] = start + 60_000
    assert gateway.app_login("shop-a", "u-9").status == 200


def test_wechat_logins_count_before_calling_wechat(gateway, monkeypatch):
    from tests.support.wechat import wechat_standin

    make_shop("shop-a")
    _set("shop-a", customer_login_limit=1)
    with wechat_standin(monkeypatch, shops=("shop-a",)) as wechat:
        first = gateway.post("/v1/auth/wechat", json_body={"shop_id": "shop-a", "code": "c1"})
        second = gateway.post("/v1/auth/wechat", json_body={"shop_id": "shop-a", "code": "c2"})
        assert (first.status, second.status) == (200, 429), second.text
        assert second.error["code"] == "rate_limited"
        assert 1 <= int(second.headers["Retry-After"]) <= 60
        assert len(wechat.requests("/sns/jscode2session")) == 1


def test_forged_app_logins_do_not_spend_the_shops_budget(gateway):
    make_shop("shop-a")
    _set("shop-a", customer_login_limit=1)
    forged = gateway.post(
        "/v1/auth/app",
        json_body={"shop_id": "shop-a", "user_id": "u-1", "timestamp": 1},
        headers={"X-Kefu-Signature": "0" * 64},
    )
    assert forged.status == 401
    assert gateway.app_login("shop-a", "u-1").status == 200
