"""Routing through the local stack: a customer's message opens a conversation, intake announces
`conversation.opened`, EventBridge -> SQS -> the routing function picks the queue by rule and
assigns an online agent with room; resolving frees the slot for the next waiting one."""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import Api, unique, wait_for

pytestmark = pytest.mark.integration

KEYWORD = "路由测试"


def _put(api: Api, path: str, token: str, body: dict):
    return api.request("PUT", path, token, json=body)


def test_a_new_conversation_is_routed_and_assigned_to_an_online_agent(api: Api, owner: str):
    # An agent of its own, in a queue of its own, so the shop's other tests are undisturbed:
    # the default queue is closed to everyone for the length of this test.
    username = unique("router").lower().replace("_", "-")[:30]
    created = api.post(
        "/v1/staff",
        owner,
        json={"username": username, "role": "agent", "password": "Router-pass-01"},
    )
    assert created.status_code == 201, created.text
    agent = api.staff_login("demo", username, password="Router-pass-01")
    closed = api.patch("/v1/queues/default", owner, json={"open_to_all": False})
    assert closed.status_code == 200, closed.text
    queue_id = f"it-{username}"[:40]
    made = api.post(
        "/v1/queues", owner, json={"queue_id": queue_id, "name": "路由", "members": [username]}
    )
    assert made.status_code == 201, made.text
    before = api.get("/v1/routing/rules", owner).json()
    rules = [
        {
            "rule_id": "it-routing",
            "queue": queue_id,
            "priority": 6,
            "conditions": {"keywords": [KEYWORD]},
        },
        *before["rules"],
    ]
    put = _put(api, "/v1/routing/rules", owner, {"version": before["version"], "rules": rules})
    assert put.status_code == 200, put.text
    try:
        status = _put(api, "/v1/agents/me/status", agent, {"status": "online", "capacity": 1})
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "online"

        customer = api.customer_login("demo", unique("routing"))
        sent = api.post(
            "/v1/messages", customer["token"], json={"type": "text", "text": f"{KEYWORD}：在吗"}
        )
        assert sent.status_code == 201, sent.text
        conversation_id = sent.json()["conversation_id"]

        def assigned() -> dict | None:
            got = api.get(f"/v1/conversations/{conversation_id}", owner).json()
            return got if got.get("assignee") else None

        conv = wait_for(assigned, timeout=20, what="routing to assign the conversation")
        assert (conv["assignee"], conv["queue"], conv["priority"]) == (username, queue_id, 6)
        agents = {a["username"]: a for a in api.get("/v1/agents", owner).json()["agents"]}
        assert agents[username]["active"] == 1

        # The agent is full: the next one waits, and is assigned when the first is resolved.
        other = api.customer_login("demo", unique("routing"))
        second = api.post("/v1/messages", other["token"], json={"type": "text", "text": KEYWORD})
        second_id = second.json()["conversation_id"]
        wait_for(
            lambda: (
                api.get(f"/v1/conversations/{second_id}", owner).json().get("queue") == queue_id
                or None
            ),
            timeout=20,
            what="the second conversation routed",
        )
        assert api.get(f"/v1/conversations/{second_id}", owner).json()["assignee"] is None
        resolved = api.post(f"/v1/conversations/{conversation_id}/resolve", agent)
        assert resolved.status_code == 200, resolved.text
        wait_for(
            lambda: (
                api.get(f"/v1/conversations/{second_id}", owner).json().get("assignee") == username
                or None
            ),
            timeout=20,
            what="the freed slot filled by agent.slot_freed",
        )
    finally:
        _put(api, "/v1/agents/me/status", agent, {"status": "offline"})
        api.patch("/v1/queues/default", owner, json={"open_to_all": True})
        current = api.get("/v1/routing/rules", owner).json()
        _put(
            api,
            "/v1/routing/rules",
            owner,
            {"version": current["version"], "rules": before["rules"]},
        )
