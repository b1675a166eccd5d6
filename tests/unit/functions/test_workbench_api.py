"""Specification: the workbench function over HTTP — every route answers as documented, within
the caller's shop and role."""

import pytest

from tests.support.factories import customer_says, make_shop


@pytest.fixture
def floor(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    return customer_says("shop-a", "openid-1", "我的快递到哪了？")


def test_an_agent_works_a_conversation_from_the_workbench(gateway, staff_token, floor, kefu_env):
    agent = staff_token("shop-a", "xiaowang", "agent")
    sup = staff_token("shop-a", "laoli", "supervisor")
    conv = floor.conversation_id

    counts = gateway.get("/v1/workbench/views", token=agent)
    assert counts.status == 200, counts.text
    assert {v["view"]: v["count"] for v in counts.json()["views"]}["unassigned"] == 1
    page = gateway.get("/v1/workbench/views/unassigned", token=agent)
    assert [c["conversation_id"] for c in page.json()["conversations"]] == [conv]
    assert gateway.post(f"/v1/conversations/{conv}/claim", token=agent).status == 200

    ctx = gateway.get(f"/v1/workbench/conversations/{conv}", token=agent)
    assert ctx.status == 200, ctx.text
    assert ctx.json()["conversation"]["assignee"] == "xiaowang"
    assert ctx.json()["customer"]["customer_id"] == floor.customer_id

    note = gateway.post(
        f"/v1/conversations/{conv}/notes",
        token=agent,
        json_body={"text": "请主管看一下", "mentions": ["laoli"]},
    )
    assert note.status == 201, note.text
    assert [e["data"]["mentioned"] for e in kefu_env.events("staff.mentioned")] == ["laoli"]

    created = gateway.post(
        "/v1/quick-replies",
        token=sup,
        json_body={"scope": "shop", "title": "稍等", "text": "您好，我是{agent_name}，请稍等"},
    )
    assert created.status == 201, created.text
    qr_id = created.json()["quick_reply_id"]
    sent = gateway.post(f"/v1/conversations/{conv}/quick-replies/{qr_id}/send", token=agent)
    assert sent.status == 201, sent.text
    assert sent.json()["content"]["text"] == "您好，我是xiaowang，请稍等"

    assert (
        gateway.post(f"/v1/conversations/{conv}/pending", token=agent).json()["agent_state"]
        == "pending"
    )
    snoozed = gateway.post(f"/v1/conversations/{conv}/snooze", token=agent, json_body={"until": 1})
    assert (snoozed.status, snoozed.error["code"]) == (400, "invalid_until")
    unsnoozed = gateway.post(f"/v1/conversations/{conv}/unsnooze", token=agent)
    assert unsnoozed.status == 200 and unsnoozed.json()["agent_state"] is None

    found = gateway.get(
        "/v1/workbench/search", token=agent, query={"customer_id": floor.customer_id, "q": "快递"}
    )
    assert found.status == 200, found.text
    assert [r["conversation"]["conversation_id"] for r in found.json()["results"]] == [conv]


def test_quick_replies_crud_and_errors_over_http(gateway, staff_token, floor):
    agent = staff_token("shop-a", "xiaowang", "agent")
    sup = staff_token("shop-a", "laoli", "supervisor")
    bad = gateway.post(
        "/v1/quick-replies",
        token=sup,
        json_body={"scope": "shop", "title": "x", "text": "{nickname}"},
    )
    assert (bad.status, bad.error["code"]) == (400, "unknown_variable")
    denied = gateway.post(
        "/v1/quick-replies", token=agent, json_body={"scope": "shop", "title": "x", "text": "y"}
    )
    assert denied.status == 403
    mine = gateway.post(
        "/v1/quick-replies", token=agent, json_body={"scope": "personal", "title": "x", "text": "y"}
    ).json()["quick_reply_id"]
    changed = gateway.patch(f"/v1/quick-replies/{mine}", token=agent, json_body={"title": "z"})
    assert changed.json()["title"] == "z"
    listing = gateway.get("/v1/quick-replies", token=agent).json()
    assert [r["title"] for r in listing["personal"]] == ["z"]
    assert gateway.request("DELETE", f"/v1/quick-replies/{mine}", token=sup).status == 404
    assert gateway.request("DELETE", f"/v1/quick-replies/{mine}", token=agent).status == 200


def test_the_workbench_answers_401_and_stays_in_its_shop(gateway, staff_token, floor):
    conv = floor.conversation_id
    assert gateway.get(f"/v1/workbench/conversations/{conv}").status == 401
    other = staff_token("shop-b", "xiaowang", "agent")
    assert gateway.get(f"/v1/workbench/conversations/{conv}", token=other).status == 404
    agent = staff_token("shop-a", "xiaowang", "agent")
    assert gateway.get("/v1/workbench/views/all", token=agent).status == 403
    typing = gateway.post(
        f"/v1/conversations/{conv}/typing", token=agent, json_body={"typing": True}
    )
    assert typing.status == 403  # not claimed: not this agent's to type in
