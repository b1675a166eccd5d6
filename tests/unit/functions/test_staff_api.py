"""Specification: the staff function over HTTP — the owner manages staff accounts and roles,
owners and supervisors read the staff list and the audit trail, everyone reads themself."""

import pytest

from tests.support.factories import make_shop

NEW_PASSWORD = "Xiao-Zhang-2024!"


@pytest.fixture
def owner(kefu_env, staff_token):
    make_shop("shop-a")
    return staff_token("shop-a", "laoban", "owner")


def test_the_owner_adds_a_staff_member_who_can_then_sign_in(gateway, owner):
    created = gateway.post(
        "/v1/staff",
        token=owner,
        json_body={
            "username": "xiaozhang",
            "role": "agent",
            "password": NEW_PASSWORD,
            "display_name": "小张",
        },
    )
    assert created.status == 201, created.text
    assert created.json()["display_name"] == "小张"
    assert "password" not in created.json()
    login = gateway.staff_login("shop-a", "xiaozhang", password=NEW_PASSWORD)
    assert login.status == 200, login.text
    me = gateway.get("/v1/staff/me", token=login.json()["access_token"])
    assert (me.json()["username"], me.json()["role"]) == ("xiaozhang", "agent")
    assert me.json()["timezone"] == "Asia/Shanghai"  # the shop's (default) calendar's zone
    listed = gateway.get("/v1/staff", token=owner)
    assert {s["username"] for s in listed.json()["staff"]} == {"laoban", "xiaozhang"}
    again = gateway.post(
        "/v1/staff", token=owner, json_body={"username": "xiaozhang", "role": "agent"}
    )
    assert (again.status, again.error["code"]) == (409, "staff_exists")
    audit = gateway.get("/v1/audit", token=owner, query={"action": "staff.created"})
    assert audit.status == 200, audit.text
    assert [(a["action"], a["target_id"]) for a in audit.json()["audit"]] == [
        ("staff.created", "xiaozhang")
    ]


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_only_the_owner_may_add_or_change_staff(gateway, owner, staff_token, role):
    token = staff_token("shop-a", "someone", role)
    created = gateway.post(
        "/v1/staff", token=token, json_body={"username": "sneaky", "role": "owner"}
    )
    assert (created.status, created.error["code"]) == (403, "permission_denied")
    changed = gateway.patch("/v1/staff/someone", token=token, json_body={"role": "owner"})
    assert (changed.status, changed.error["code"]) == (403, "permission_denied")
    listed = gateway.get("/v1/staff", token=token)
    assert listed.status == (200 if role == "supervisor" else 403)
    audit = gateway.get("/v1/audit", token=token)
    assert audit.status == (200 if role == "supervisor" else 403)


def test_a_disabled_staff_member_is_refused_at_once(gateway, owner, staff_token):
    token = staff_token("shop-a", "xiaowang", "agent")
    assert gateway.get("/v1/staff/me", token=token).status == 200
    disabled = gateway.patch("/v1/staff/xiaowang", token=owner, json_body={"status": "disabled"})
    assert disabled.status == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    refused = gateway.get("/v1/staff/me", token=token)
    assert (refused.status, refused.error["code"]) == (403, "staff_disabled")


def test_the_owner_cannot_demote_themself_and_other_shops_staff_are_not_found(
    gateway, owner, kefu_env
):
    from tests.support.factories import make_staff

    self_change = gateway.patch("/v1/staff/laoban", token=owner, json_body={"role": "agent"})
    assert (self_change.status, self_change.error["code"]) == (403, "self_change")
    make_shop("shop-b")
    make_staff("shop-b", "stranger")
    elsewhere = gateway.patch("/v1/staff/stranger", token=owner, json_body={"role": "owner"})
    assert (elsewhere.status, elsewhere.error["code"]) == (404, "staff_not_found")


@pytest.mark.parametrize(
    ("method", "url", "body", "code", "names"),
    [
        ("POST", "/v1/staff", '{"username": "a", "role": ', "malformed_json", "not valid JSON"),
        ("POST", "/v1/staff", '{"username": 1, "role": "agent"}', "validation_error", "$.username"),
        ("POST", "/v1/staff", '{"username": "a", "role": "boss"}', "validation_error", "$.role"),
        (
            "POST",
            "/v1/staff",
            '{"username": "a", "role": "agent", "admin": true}',
            "validation_error",
            "admin",
        ),
        ("POST", "/v1/staff", "", "empty_body", "empty"),
        ("PATCH", "/v1/staff/laoban", '{"role": 3}', "validation_error", "$.role"),
        ("PATCH", "/v1/staff/laoban", '{"nickname": "x"}', "validation_error", "nickname"),
        ("PATCH", "/v1/staff/laoban", "{,}", "malformed_json", "not valid JSON"),
        ("PATCH", "/v1/staff/laoban", "", "empty_body", "empty"),
    ],
)
def test_bad_staff_bodies_are_400_naming_the_problem(
    gateway, owner, method, url, body, code, names
):
    answer = gateway.request(method, url, token=owner, body=body)
    assert answer.status == 400, answer.text
    assert answer.error["code"] == code
    assert names in answer.error["message"], answer.error["message"]


def test_oversized_staff_bodies_are_413(gateway, owner):
    answer = gateway.post(
        "/v1/staff",
        token=owner,
        json_body={"username": "a", "role": "agent", "display_name": "名" * 30_000},
    )
    assert (answer.status, answer.error["code"]) == (413, "payload_too_large")


def test_missing_garbled_or_customer_credentials_are_401(gateway, owner):
    customer = gateway.customer_token("shop-a")
    for headers, code in [
        ({}, "missing_token"),
        ({"Authorization": "bearer"}, "missing_token"),
        ({"Authorization": "Bearer x.y.z"}, "invalid_token"),
        ({"Authorization": f"Bearer {customer}"}, "invalid_token"),
    ]:
        for method, url in [("GET", "/v1/staff/me"), ("GET", "/v1/staff"), ("GET", "/v1/audit")]:
            answer = gateway.request(method, url, headers=headers)
            assert answer.status == 401, (headers, url, answer.text)
            assert answer.error["code"] == code
        posted = gateway.post(
            "/v1/staff", headers=headers, json_body={"username": "a", "role": "agent"}
        )
        assert (posted.status, posted.error["code"]) == (401, code)
