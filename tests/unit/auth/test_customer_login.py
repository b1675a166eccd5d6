"""Specification: customers sign in with a WeChat login code, or through the shop's own server
for app/H5 users, and get a short-lived kefu token for that one shop."""

import base64
import hashlib
import hmac
import json
import os
import time

import boto3
import msgspec
import pytest
from kefu.auth.actors import CustomerActor
from kefu.auth.customer_login import AppLogin, WeChatLogin, login_app_user, login_with_wechat
from kefu.auth.customer_tokens import verify_customer_token
from kefu.channels.wechat.api import WeChatApi
from kefu.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized, UpstreamUnavailable
from kefu.shops import clear_cache
from kefu.storage.shops import PROFILE, ShopProfile

from infra.local.wechat_standin import WeChatStandIn
from tests.support.factories import WECHAT, make_shop
from tests.support.wechat import IN_MEMORY_URL, shop_appid, wechat_standin

LOGIN = "/sns/jscode2session"


@pytest.fixture
def wechat(kefu_env, monkeypatch):
    make_shop("shop-a")
    make_shop("shop-b")
    with wechat_standin(monkeypatch, shops=("shop-a", "shop-b")) as standin:
        yield standin


def _customers_table():
    return boto3.client("dynamodb").scan(TableName=os.environ["CUSTOMERS_TABLE"])["Items"]


def _login(shop_id="shop-a", code="code-alice"):
    return login_with_wechat(WeChatLogin(shop_id=shop_id, code=code))


# --- WeChat mini-program ------------------------------------------------------------------------


def test_a_wechat_login_returns_a_token_that_verifies_to_the_customer(wechat):
    resp = _login()
    assert resp["token_type"] == "Bearer" and resp["expires_in"] > 0
    assert resp["shop_id"] == "shop-a"
    actor = verify_customer_token(resp["token"])
    assert actor == CustomerActor(
        shop_id="shop-a",
        customer_id=resp["customer_id"],
        identity_kind="wechat_openid",
        external_id=WeChatStandIn.openid_for(shop_appid("shop-a"), "code-alice"),
        channel="wechat_miniprogram",
    )
    (call,) = wechat.requests(LOGIN)
    assert call["query"]["appid"] == shop_appid("shop-a")
    assert call["query"]["js_code"] == "code-alice"


def test_logging_in_again_as_the_same_person_is_the_same_customer(wechat):
    assert _login()["customer_id"] == _login()["customer_id"]


def test_different_people_are_different_customers(wechat):
    assert _login(code="code-alice")["customer_id"] != _login(code="code-bob")["customer_id"]


def test_one_person_in_two_shops_is_two_customers_even_with_one_unionid(wechat):
    # The stand-in gives this person the same unionid under both appids, as WeChat would;
    # shops are separate tenants, so nothing links them.
    a = _login("shop-a")
    b = _login("shop-b")
    assert a["customer_id"] != b["customer_id"]
    assert verify_customer_token(a["token"]).shop_id == "shop-a"
    assert verify_customer_token(b["token"]).shop_id == "shop-b"


def test_the_session_key_never_leaves_the_server(wechat):
    session_key = WeChatApi(IN_MEMORY_URL).jscode2session(
        shop_appid("shop-a"), WECHAT["app_secret"], "code-alice"
    )["session_key"]

    resp = _login()

    assert "session_key" not in resp
    assert session_key not in json.dumps(resp)
    claims = base64.urlsafe_b64decode(resp["token"].split(".")[1] + "==").decode()
    assert session_key not in claims
    stored = _customers_table()
    assert stored and session_key not in json.dumps(stored)


@pytest.mark.parametrize("errcode", [40029, 40163])
def test_an_invalid_or_used_code_is_a_bad_request_asking_for_a_new_code(wechat, errcode):
    wechat.fail_next(LOGIN, errcode=errcode)
    with pytest.raises(BadRequest) as err:
        _login()
    assert err.value.code == "invalid_code"
    assert "wx.login" in err.value.message


def test_wechat_rate_limiting_the_user_is_too_many_requests(wechat):
    wechat.fail_next(LOGIN, errcode=45011)
    with pytest.raises(TooManyRequests):
        _login()


def test_a_user_wechat_blocked_is_forbidden_with_code_user_blocked(wechat):
    wechat.fail_next(LOGIN, errcode=40226)
    with pytest.raises(Forbidden) as err:
        _login()
    assert err.value.code == "user_blocked"


def test_wechat_answering_503_is_upstream_unavailable(wechat):
    wechat.fail_next(LOGIN, http_status=503)
    with pytest.raises(UpstreamUnavailable):
        _login()


def test_another_wechat_error_is_upstream_unavailable_and_creates_no_customer(wechat):
    wechat.fail_next(LOGIN, errcode=-1)
    with pytest.raises(UpstreamUnavailable):
        _login()
    assert _customers_table() == []


def test_a_failed_login_does_not_poison_the_next_one(wechat):
    wechat.fail_next(LOGIN, http_status=503)
    with pytest.raises(UpstreamUnavailable):
        _login()
    assert verify_customer_token(_login()["token"]).shop_id == "shop-a"


# --- app / H5 users, vouched for by the shop's server -------------------------------------------


def _app_login(
    *,
    shop_id="shop-a",
    user_id="u-1001",
    timestamp=None,
    key=None,
    signature=...,
    channel="app",
):
    body = json.dumps(
        {
            "shop_id": shop_id,
            "user_id": user_id,
            "timestamp": int(time.time()) if timestamp is None else timestamp,
            "channel": channel,
        }
    ).encode()
    if signature is ...:
        secret = key or f"{shop_id}-app-login-key"
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return login_app_user(body, signature, msgspec.json.decode(body, type=AppLogin))


def test_an_app_user_signed_for_by_the_shop_gets_a_token(kefu_env):
    make_shop("shop-a")
    resp = _app_login(channel="h5")
    actor = verify_customer_token(resp["token"])
    assert actor == CustomerActor("shop-a", resp["customer_id"], "app_user", "u-1001", "h5")
    assert _app_login()["customer_id"] == resp["customer_id"]


def test_the_signature_may_be_sent_in_upper_case(kefu_env):
    make_shop("shop-a")
    body = json.dumps({"shop_id": "shop-a", "user_id": "u-1", "timestamp": int(time.time())})
    sig = hmac.new(b"shop-a-app-login-key", body.encode(), hashlib.sha256).hexdigest().upper()
    resp = login_app_user(body.encode(), sig, msgspec.json.decode(body, type=AppLogin))
    assert verify_customer_token(resp["token"]).external_id == "u-1"


def test_a_wrong_signature_is_unauthorized(kefu_env):
    make_shop("shop-a")
    with pytest.raises(Unauthorized) as err:
        _app_login(key="another-shops-key")
    assert err.value.code == "bad_signature"


def test_a_stale_timestamp_is_unauthorized_even_when_correctly_signed(kefu_env):
    make_shop("shop-a")
    with pytest.raises(Unauthorized) as err:
        _app_login(timestamp=int(time.time()) - 600)
    assert err.value.code == "stale_signature"


def test_a_missing_signature_is_unauthorized(kefu_env):
    make_shop("shop-a")
    for missing in (None, ""):
        with pytest.raises(Unauthorized) as err:
            _app_login(signature=missing)
        assert err.value.code == "missing_signature"


def test_a_shop_without_app_login_refuses_app_users(kefu_env):
    make_shop("shop-a")
    ShopProfile("shop-a", PROFILE).update(actions=[ShopProfile.app_login_secret_id.remove()])
    clear_cache()
    with pytest.raises(Forbidden) as err:
        _app_login()
    assert err.value.code == "app_login_disabled"
