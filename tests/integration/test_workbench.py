"""Specification, against the local stack: the workbench's context call for a demo conversation."""

import pytest

pytestmark = pytest.mark.integration


def test_the_context_call_for_xiaohongs_demo_conversation(api, agent1, owner):
    customer = api.customer_login("demo", "xiaohong")
    conv = api.get("/v1/messages", token=customer["token"]).json()["conversation_id"]

    resp = api.get(f"/v1/workbench/conversations/{conv}", token=agent1)
    assert resp.status_code == 200, resp.text
    ctx = resp.json()
    assert ctx["conversation"]["conversation_id"] == conv
    assert ctx["conversation"]["assignee"] == "agent1"
    texts = [m["content"].get("text") for m in ctx["messages"]["messages"]]
    assert "这件衣服有 M 码吗？" in texts
    assert ctx["customer"]["customer_id"] == customer["customer_id"]
    assert isinstance(ctx["orders"], list) and isinstance(ctx["open_tickets"], list)
    assert isinstance(ctx["previous_conversations"], list)

    counts = api.get("/v1/workbench/views", token=agent1).json()
    assert {v["view"] for v in counts["views"]} >= {"mine", "unassigned", "my_queues"}
    assert api.get(f"/v1/workbench/conversations/{conv}", token=owner).status_code == 200
