"""Shops are tenants: nobody reaches another shop's data, and within a shop roles decide who may
change what. Every change staff make is in the audit trail."""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import Api, unique

pytestmark = pytest.mark.integration


def _queued(api: Api, staff_token: str) -> list[dict]:
    resp = api.get("/v1/conversations?status=queued&limit=100", staff_token)
    assert resp.status_code == 200, resp.text
    return resp.json()["conversations"]


@pytest.fixture(scope="module")
def demo_conversation(api: Api) -> dict:
    customer = api.customer_login("demo", unique("tenant"))
    sent = api.customer_says(customer["token"], "只属于 demo 店的问题")
    return {"conversation_id": sent["conversation_id"], "customer_token": customer["token"]}


def test_agent_of_another_shop_cannot_see_or_touch_a_conversation(
    api: Api, agent2: str, demo_conversation: dict
):
    conversation_id = demo_conversation["conversation_id"]

    for method, path, body in [
        ("GET", f"/v1/conversations/{conversation_id}", None),
        ("GET", f"/v1/conversations/{conversation_id}/messages", None),
        ("POST", f"/v1/conversations/{conversation_id}/claim", None),
        ("POST", f"/v1/conversations/{conversation_id}/replies", {"type": "text", "text": "hi"}),
        ("POST", f"/v1/conversations/{conversation_id}/resolve", None),
    ]:
        resp = api.request(method, path, agent2, json=body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "conversation_not_found"
    # demo-2's queue holds only demo-2's conversations.
    queue = _queued(api, agent2)
    assert queue
    assert {c["shop_id"] for c in queue} == {"demo-2"}


def test_customer_of_one_shop_cannot_read_another_shops_conversation(
    api: Api, agent2: str, demo_conversation: dict
):
    demo_2_conversation = _queued(api, agent2)[0]["conversation_id"]

    resp = api.get(
        "/v1/messages",
        demo_conversation["customer_token"],
        params={"conversation_id": demo_2_conversation},
    )

    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "conversation_not_found"
    # A customer token is no key to the staff API either.
    staff_api = api.get("/v1/conversations?status=queued", demo_conversation["customer_token"])
    assert staff_api.status_code == 401, staff_api.text
    assert staff_api.json()["error"]["code"] == "invalid_token"


def test_agent_cannot_manage_staff_or_read_the_audit(api: Api, agent1: str):
    for method, path, body in [
        ("PATCH", "/v1/staff/agent1", {"role": "owner"}),
        ("PATCH", "/v1/staff/owner", {"status": "disabled"}),
        ("POST", "/v1/staff", {"username": unique("sneaky"), "role": "agent"}),
        ("GET", "/v1/audit", None),
    ]:
        resp = api.request(method, path, agent1, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "permission_denied"
    me = api.get("/v1/staff/me", agent1).json()
    assert me["role"] == "agent"


def test_owner_adds_staff_who_can_sign_in_and_the_audit_shows_it(api: Api, owner: str):
    username = unique("agent")
    created = api.post(
        "/v1/staff",
        owner,
        json={
            "username": username,
            "role": "supervisor",
            "password": "Welcome-2-kefu!",
            "display_name": "新同事",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "supervisor"

    token = api.staff_login("demo", username, "Welcome-2-kefu!")
    me = api.get("/v1/staff/me", token)
    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["role"]) == (username, "supervisor")
    # The new supervisor works in demo only.
    assert api.get("/v1/staff", token).status_code == 200

    audit = api.get("/v1/audit", owner, params={"target_type": "staff", "target_id": username})
    assert audit.status_code == 200, audit.text
    records = audit.json()["audit"]
    # Newest first: their own sign-in (sign-ins are audited), then the owner's change.
    assert [(r["action"], r["actor"], r["actor_role"]) for r in records] == [
        ("staff.login", f"staff:{username}", "supervisor"),
        ("staff.created", "staff:owner", "owner"),
    ]
    created = records[1]
    assert created["after"]["role"] == "supervisor"
    assert "password" not in created["after"]
    assert created["request_id"]
    # Creating the same member again is a conflict, not a second record.
    again = api.post("/v1/staff", owner, json={"username": username, "role": "agent"})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "staff_exists"
