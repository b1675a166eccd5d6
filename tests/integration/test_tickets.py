"""Tickets through the local stack: a ticket made from a demo conversation, resolved, and the
customer told on WeChat (ticket.resolved -> TicketNotifierQueue -> ticket_notifier ->
reply.created -> outbound -> the WeChat stand-in)."""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import Api, StandIn, wait_for

pytestmark = pytest.mark.integration


def test_a_resolved_ticket_is_announced_to_the_customer_on_wechat(
    api: Api, standin: StandIn, agent1: str
):
    # 小红's demo conversation is assigned to agent1.
    customer = api.customer_login("demo", "xiaohong")
    mine = api.get("/v1/messages", customer["token"])
    assert mine.status_code == 200, mine.text
    conversation_id = mine.json()["messages"][-1]["conversation_id"]

    created = api.post(
        f"/v1/conversations/{conversation_id}/tickets",
        agent1,
        json={"subject": "M 码换 L 码", "type": "exchange", "priority": "high"},
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["conversation_id"] == conversation_id
    assert any("M 码" in m["text"] for m in ticket["context"])
    assert ticket["sla"]["resolution_due_at"] > ticket["created_at"]

    bad = api.patch(f"/v1/tickets/{ticket['ticket_id']}", agent1, json={"status": "closed"})
    assert bad.status_code == 409, bad.text
    assert bad.json()["error"]["code"] == "invalid_transition"

    resolved = api.patch(
        f"/v1/tickets/{ticket['ticket_id']}",
        agent1,
        json={"status": "resolved", "resolution_note": "已为您换成 L 码"},
    )
    assert resolved.status_code == 200, resolved.text

    expected = f"您的工单 #{ticket['short_id']}「M 码换 L 码」已处理完成：已为您换成 L 码"
    openid = StandIn.openid("demo", "xiaohong")
    sent = wait_for(
        lambda: [
            r
            for r in standin.sent_to(openid)
            if not r["errcode"] and r["json"]["text"]["content"] == expected
        ],
        timeout=20,
        what="the resolution notice delivered to WeChat",
    )
    assert len(sent) == 1

    full = api.get(f"/v1/tickets/{ticket['ticket_id']}", agent1).json()
    assert [h["field"] for h in full["history"] if h["kind"] == "change"] == [
        "status",
        "resolution_note",
    ]
