"""Specification: the auth function over HTTP — customers sign in (app/H5 through the shop's
signed request, mini-program through WeChat) and staff sign in with a password."""

import hashlib
import hmac
import json
import time

import pytest
from kefu.audit import list_audit

from tests.support.factories import make_shop
from tests.unit.functions.conftest import STAFF_PASSWORD


def _signed(shop_id, payload, key=None):
    raw = json.dumps(payload, ensure_ascii=False).encode()
    key = key or f"{shop_id}-app-login-key"
    return raw, {"X-Kefu-Signature": hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()}


# ------------------------------------------------------------------------ app/H5 customers


def test_an_app_user_signed_by_the_shop_gets_a_customer_token_that_works(gateway):
    make_shop("shop-a")
    login = gateway.app_login("shop-a", "u-10086", channel="h5", display_name="张三")
    assert login.status == 200, login.text
    body = login.json()
    assert body["token_type"] == "Bearer" and body["shop_id"] == "shop-a"
    assert body["expires_in"] > 0 and body["customer_id"]
    again = gateway.app_login("shop-a", "u-10086")
    assert again.json()["customer_id"] == body["customer_id"]  # one person, one customer
    page = gateway.get("/v1/messages", token=body["token"])
    assert page.status == 200, page.text
    assert page.json() == {
        "conversation_id": None,
        "messages": [],
        "next_cursor": None,
        "has_more": False,
    }


def test_app_login_refuses_missing_wrong_and_stale_signatures(gateway):
    make_shop("shop-a")
    payload = {"shop_id": "shop-a", "user_id": "u-1", "timestamp": int(time.time())}
    raw, headers = _signed("shop-a", payload)
    missing = gateway.post("/v1/auth/app", body=raw)
    assert (missing.status, missing.error["code"]) == (401, "missing_signature")
    _, wrong_key = _signed("shop-a", payload, key="shop-b-app-login-key")
    wrong = gateway.post("/v1/auth/app", body=raw, headers=wrong_key)
    assert (wrong.status, wrong.error["code"]) == (401, "bad_signature")
    tampered = raw.replace(b"u-1", b"u-2")
    changed = gateway.post("/v1/auth/app", body=tampered, headers=headers)
    assert (changed.status, changed.error["code"]) == (401, "bad_signature")
    old_raw, old_headers = _signed("shop-a", {**payload, "timestamp": int(time.time()) - 3600})
    stale = gateway.post("/v1/auth/app", body=old_raw, headers=old_headers)
    assert (stale.status, stale.error["code"]) == (401, "stale_signature")


def test_app_login_for_an_unknown_shop_is_404(gateway):
    make_shop("shop-a")
    raw, headers = _signed("shop-z", {"shop_id": "shop-z", "user_id": "u", "timestamp": 1})
    answer = gateway.post("/v1/auth/app", body=raw, headers=headers)
    assert (answer.status, answer.error["code"]) == (404, "shop_not_found")


@pytest.mark.parametrize(
    ("url", "body", "code", "names"),
    [
        ("/v1/auth/app", '{"shop_id": "shop-a",', "malformed_json", "not valid JSON"),
        (
            "/v1/auth/app",
            '{"shop_id": "shop-a", "user_id": "u", "timestamp": "now"}',
            "validation_error",
            "$.timestamp",
        ),
        (
            "/v1/auth/app",
            '{"shop_id": "shop-a", "user_id": "u", "timestamp": 1, "admin": true}',
            "validation_error",
            "admin",
        ),
        (
            "/v1/auth/app",
            '{"shop_id": "SHOP A", "user_id": "u", "timestamp": 1}',
            "validation_error",
            "$.shop_id",
        ),
        ("/v1/auth/app", "", "empty_body", "empty"),
        ("/v1/auth/wechat", "not json", "malformed_json", "not valid JSON"),
        ("/v1/auth/wechat", '{"shop_id": "shop-a", "code": 123}', "validation_error", "$.code"),
        (
            "/v1/auth/wechat",
            '{"shop_id": "shop-a", "code": "c", "openid": "o"}',
            "validation_error",
            "openid",
        ),
        ("/v1/auth/wechat", '{"shop_id": "shop-a"}', "validation_error", "code"),
        ("/v1/auth/wechat", "", "empty_body", "empty"),
        ("/v1/staff/login", "{", "malformed_json", "not valid JSON"),
        (
            "/v1/staff/login",
            '{"shop_id": "shop-a", "username": "a", "password": 12345678}',
            "validation_error",
            "$.password",
        ),
        (
            "/v1/staff/login",
            '{"shop_id": "shop-a", "username": "a", "password": "p", "mfa": 1}',
            "validation_error",
            "mfa",
        ),
        ("/v1/staff/login", "", "empty_body", "empty"),
    ],
)
def test_bad_sign_in_bodies_are_400_naming_the_problem(gateway, url, body, code, names):
    answer = gateway.post(url, body=body, headers={"X-Kefu-Signature": "00"})
    assert answer.status == 400, answer.text
    assert answer.error["code"] == code
    assert names in answer.error["message"], answer.error["message"]
    assert answer.error["request_id"] == gateway.last_event["requestContext"]["requestId"]


@pytest.mark.parametrize("url", ["/v1/auth/app", "/v1/auth/wechat", "/v1/staff/login"])
def test_sign_in_bodies_over_64_kib_are_413_and_other_content_types_415(gateway, url):
    big = json.dumps({"shop_id": "shop-a", "code": "c" * 70_000})
    answer = gateway.post(url, body=big)
    assert (answer.status, answer.error["code"]) == (413, "payload_too_large")
    form = gateway.post(
        url, body="shop_id=shop-a", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (form.status, form.error["code"]) == (415, "unsupported_media_type")


# ------------------------------------------------------------------------ mini-program customers


def test_wechat_login_for_an_unknown_shop_is_404_before_calling_wechat(gateway):
    answer = gateway.post("/v1/auth/wechat", json_body={"shop_id": "shop-z", "code": "abc"})
    assert (answer.status, answer.error["code"]) == (404, "shop_not_found")


# ------------------------------------------------------------------------ staff


def test_staff_sign_in_returns_an_access_token_for_the_staff_endpoints(gateway, staff_token):
    make_shop("shop-a")
    token = staff_token("shop-a", "xiaowang", "agent")
    me = gateway.get("/v1/staff/me", token=token)
    assert me.status == 200, me.text
    assert (me.json()["username"], me.json()["role"]) == ("xiaowang", "agent")
    listed = gateway.get("/v1/conversations", token=token)
    assert listed.status == 200, listed.text
    assert listed.json() == {"conversations": [], "next_cursor": None}


def test_staff_sign_in_with_a_wrong_password_or_shop_is_401(gateway, staff_token):
    make_shop("shop-a")
    make_shop("shop-b")
    staff_token("shop-a", "xiaowang")
    wrong = gateway.staff_login("shop-a", "xiaowang", password="Wrong-Pass-1!")
    assert (wrong.status, wrong.error["code"]) == (401, "bad_credentials")
    other_shop = gateway.staff_login("shop-b", "xiaowang")
    assert (other_shop.status, other_shop.error["code"]) == (401, "bad_credentials")
    assert "Wrong-Pass" not in wrong.text


def test_staff_sign_out_revokes_the_refresh_token_clears_the_cookie_and_is_audited(
    gateway, staff_token
):
    make_shop("shop-a")
    staff_token("shop-a", "xiaowang")
    signed_in = gateway.post(
        "/v1/staff/login?refresh_cookie=1",
        json_body={"shop_id": "shop-a", "username": "xiaowang", "password": STAFF_PASSWORD},
    )
    assert signed_in.status == 200, signed_in.text
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    refresh_token = cookie.split("=", 1)[1]
    access = signed_in.json()["access_token"]

    out = gateway.post("/v1/staff/logout", json_body={}, token=access)

    assert out.status == 200, out.text
    assert out.json() == {"signed_out": True, "username": "xiaowang"}
    cleared = out.headers["Set-Cookie"]
    assert cleared.startswith("kefu_refresh=;") and "Max-Age=0" in cleared
    assert "Path=/v1/staff/login/refresh" in cleared and "HttpOnly" in cleared
    again = gateway.post("/v1/staff/login/refresh", json_body={"refresh_token": refresh_token})
    assert again.status == 401, again.text
    assert again.json()["error"]["code"] == "invalid_token"
    records, _ = list_audit("shop-a", action="staff.logout")
    assert [(r["actor"], r["target_id"]) for r in records] == [("staff:xiaowang", "xiaowang")]


def test_staff_sign_out_without_a_token_is_401(gateway):
    out = gateway.post("/v1/staff/logout", json_body={})
    assert out.status == 401, out.text
