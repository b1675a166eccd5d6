"""Specification: the staff lifecycle and the audit trail over HTTP — password reset and the
new-password challenge, the console's refresh cookie, audit filters that refuse unknown values,
and reads of unmasked personal data (contact, message search) and exports that are on record."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from kefu.storage.customers import Customer

from tests.support.factories import customer_says, make_shop

NEW_PASSWORD = "Brand-New-Pass-7"


@pytest.fixture
def owner(kefu_env, staff_token):
    make_shop("shop-a")
    return staff_token("shop-a", "laoban", "owner")


def _audit(gateway, token, **query):
    answer = gateway.get("/v1/audit", token=token, query=query)
    assert answer.status == 200, answer.text
    return answer.json()["audit"]


def test_reset_then_sign_in_answers_a_challenge_completed_with_a_new_password(
    gateway, owner, staff_token
):
    staff_token("shop-a", "xiaowang", "agent")
    reset = gateway.post("/v1/staff/xiaowang/password-reset", token=owner)
    assert reset.status == 200, reset.text
    temporary = reset.json()["temporary_password"]

    challenge = gateway.staff_login("shop-a", "xiaowang", password=temporary)
    assert challenge.status == 200, challenge.text
    assert challenge.json()["challenge"] == "new_password_required"
    done = gateway.post(
        challenge.json()["respond_at"],
        json_body={
            "shop_id": "shop-a",
            "username": "xiaowang",
            "session": challenge.json()["session"],
            "new_password": NEW_PASSWORD,
        },
    )
    assert done.status == 200, done.text
    me = gateway.get("/v1/staff/me", token=done.json()["access_token"])
    assert me.json()["username"] == "xiaowang"
    assert [r["target_id"] for r in _audit(gateway, owner, action="staff.password_reset")] == [
        "xiaowang"
    ]
    agent = gateway.staff_login("shop-a", "xiaowang", password=NEW_PASSWORD).json()
    refused = gateway.post("/v1/staff/laoban/password-reset", token=agent["access_token"])
    assert (refused.status, refused.error["code"]) == (403, "permission_denied")


def test_the_console_keeps_the_refresh_token_in_an_httponly_cookie(gateway, owner):
    login = gateway.post(
        "/v1/staff/login",
        query={"refresh_cookie": "1"},
        json_body={"shop_id": "shop-a", "username": "laoban", "password": "Kefu-Test-123!"},
    )
    assert login.status == 200, login.text
    assert login.json()["refresh_token"] is None  # out of reach of the page's scripts
    cookie = login.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/staff/login/refresh"):
        assert attribute in cookie
    jar = SimpleCookie()
    jar.load(cookie)
    refreshed = gateway.post(
        "/v1/staff/login/refresh",
        json_body={},
        headers={"Cookie": f"kefu_refresh={jar['kefu_refresh'].value}"},
    )
    assert refreshed.status == 200, refreshed.text
    assert gateway.get("/v1/staff/me", token=refreshed.json()["access_token"]).status == 200
    # Scripts: the body, as before.
    script = gateway.staff_login("shop-a", "laoban", password="Kefu-Test-123!").json()
    by_body = gateway.post(
        "/v1/staff/login/refresh", json_body={"refresh_token": script["refresh_token"]}
    )
    assert by_body.status == 200, by_body.text
    missing = gateway.post("/v1/staff/login/refresh", json_body={})
    assert (missing.status, missing.error["code"]) == (401, "missing_token")


@pytest.mark.parametrize(
    "query, code",
    [
        ({"target_type": "AAA"}, "invalid_target_type"),
        ({"target_id": "x"}, "target_type_required"),
        ({"action": "a b"}, "invalid_action"),
        ({"from": "yesterday"}, "invalid_time"),
    ],
)
def test_audit_filters_refuse_unknown_values(gateway, owner, query, code):
    answer = gateway.get("/v1/audit", token=owner, query=query)
    assert (answer.status, answer.error["code"]) == (400, code)


def test_audit_filters_by_actor_as_a_bare_username(gateway, owner, staff_token):
    staff_token("shop-a", "xiaowang", "agent")
    records = _audit(gateway, owner, actor="xiaowang", action="staff.login")
    assert [r["actor"] for r in records] == ["staff:xiaowang"]


def test_unmasked_contact_views_message_searches_and_exports_are_audited(
    gateway, owner, staff_token
):
    received = customer_says("shop-a", "openid-1", "我的快递到哪了？")
    Customer("shop-a", Customer.key(received.customer_id)).update(
        actions=[Customer.contact.set("13812345678")]
    )
    agent = staff_token("shop-a", "xiaowang", "agent")
    sup = staff_token("shop-a", "laoli", "supervisor")
    conv = received.conversation_id

    # The agent sees the number masked: nothing to record.
    masked = gateway.get(f"/v1/workbench/conversations/{conv}", token=agent)
    assert masked.json()["customer"]["contact_masked"] is True
    assert _audit(gateway, owner, action="customer.contact_viewed") == []
    shown = gateway.get(f"/v1/workbench/conversations/{conv}", token=sup)
    assert shown.json()["customer"]["contact"] == "13812345678"
    [viewed] = _audit(gateway, owner, action="customer.contact_viewed")
    assert (viewed["actor"], viewed["target_type"], viewed["target_id"]) == (
        "staff:laoli",
        "customer",
        received.customer_id,
    )

    search = gateway.get(
        "/v1/workbench/search",
        token=agent,
        query={"customer_id": received.customer_id, "q": "快递"},
    )
    assert search.status == 200, search.text
    [searched] = _audit(gateway, owner, action="messages.searched")
    assert (searched["actor"], searched["target_id"], searched["after"]["q"]) == (
        "staff:xiaowang",
        received.customer_id,
        "快递",
    )

    exported = gateway.get("/v1/knowledge/export", token=agent, query={"format": "csv"})
    assert exported.status == 200, exported.text
    [export] = _audit(gateway, owner, action="knowledge.exported")
    assert (export["actor"], export["target_type"], export["after"]["format"]) == (
        "staff:xiaowang",
        "kb",
        "csv",
    )


def test_a_suspended_shops_staff_are_refused_on_every_path(gateway, owner, staff_token):
    from kefu import shops
    from kefu.storage.shops import PROFILE, ShopProfile

    received = customer_says("shop-a", "openid-9", "在吗")
    agent = staff_token("shop-a", "xiaowang", "agent")
    conv = received.conversation_id
    assert gateway.get(f"/v1/workbench/conversations/{conv}", token=agent).status == 200
    ShopProfile("shop-a", PROFILE).update(actions=[ShopProfile.status.set("suspended")])
    shops.clear_cache()  # what the 5-second status cache does, without the wait

    for path in ("/v1/staff/me", f"/v1/workbench/conversations/{conv}", "/v1/conversations"):
        answer = gateway.get(path, token=agent)
        assert (answer.status, answer.error["code"]) == (403, "shop_suspended"), path
    # A reply reads the shop's status with the staff record and the conversation, in one request.
    replied = gateway.post(
        f"/v1/conversations/{conv}/replies", token=agent, json_body={"type": "text", "text": "在"}
    )
    assert (replied.status, replied.error["code"]) == (403, "shop_suspended")
    login = gateway.staff_login("shop-a", "xiaowang")
    assert (login.status, login.error["code"]) == (403, "shop_suspended")
