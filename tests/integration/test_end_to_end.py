"""The README's five minutes with curl, as a test: a customer writes from the mini-program, an
agent answers from the workbench, WeChat's customer-service API carries the answer back, and
the in-app chat client reads it."""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import Api, StandIn, unique, wait_for

pytestmark = pytest.mark.integration

QUESTION = "你好，我想问一下退货流程"
ANSWER = "您好，7 天内可无理由退货～"


def test_customer_question_to_delivered_agent_reply(
    api: Api, standin: StandIn, agent1: str, resolve_later
):
    # 1. A customer signs in from the mini-program with a wx.login() code.
    code = unique("e2e")
    customer = api.customer_login("demo", code)
    assert customer["shop_id"] == "demo"
    assert customer["token_type"] == "Bearer"
    token = customer["token"]
    openid = StandIn.openid("demo", code)

    # 2. The customer writes; a retried send (same client_message_id) is stored once.
    body = {"type": "text", "text": QUESTION, "client_message_id": unique("c")}
    sent = api.post("/v1/messages", token, json=body)
    assert sent.status_code == 201, sent.text
    conversation_id = sent.json()["conversation_id"]
    assert sent.json()["message"]["content"] == {"text": QUESTION}
    again = api.post("/v1/messages", token, json=body)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["message"]["message_id"] == sent.json()["message"]["message_id"]

    # 3. agent1 signs in (fixture) and finds the conversation in the queue.
    queued = api.get("/v1/conversations?status=queued&limit=100", agent1)
    assert queued.status_code == 200, queued.text
    mine = [c for c in queued.json()["conversations"] if c["conversation_id"] == conversation_id]
    assert len(mine) == 1
    assert mine[0]["customer_id"] == customer["customer_id"]
    assert mine[0]["last_message_preview"] == QUESTION
    assert mine[0]["assignee"] is None

    # 4. agent1 claims it and replies.
    claimed = api.post(f"/v1/conversations/{conversation_id}/claim", agent1)
    resolve_later(agent1, conversation_id)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["assignee"] == "agent1"
    assert claimed.json()["status"] == "assigned"
    replied = api.post(
        f"/v1/conversations/{conversation_id}/replies",
        agent1,
        json={"type": "text", "text": ANSWER},
    )
    assert replied.status_code == 201, replied.text
    reply = replied.json()
    assert reply["direction"] == "out"
    assert reply["delivery_status"] == "pending"

    # 5. The reply went out through WeChat's customer-service API (EventBridge -> SQS ->
    #    outbound), to this customer's openid, as a text message with the exact text...
    sends = wait_for(
        lambda: standin.sent_to(openid), timeout=10, what="custom/send to the customer"
    )
    assert len(sends) == 1
    assert sends[0]["method"] == "POST"
    assert sends[0]["errcode"] == 0
    assert sends[0]["json"] == {"touser": openid, "msgtype": "text", "text": {"content": ANSWER}}
    assert ANSWER in sends[0]["body"]  # UTF-8 as is, not \uXXXX escapes
    # ...and the message says so.
    delivered = api.wait_for_delivery(agent1, conversation_id, reply["message_id"], "delivered")
    assert delivered["sender_id"] == "agent1"
    assert "delivery_error" not in delivered

    # 6. The in-app chat client polls and sees the question and the answer, in order.
    page = api.get("/v1/messages", token)
    assert page.status_code == 200, page.text
    messages = page.json()["messages"]
    assert page.json()["conversation_id"] == conversation_id
    assert [(m["direction"], m["content"]) for m in messages] == [
        ("in", {"text": QUESTION}),
        ("out", {"text": ANSWER}),
    ]
    assert messages[-1]["delivery_status"] == "delivered"
    assert "sender_id" not in messages[-1]  # customers do not see who the agent is
    cursor = page.json()["next_cursor"]
    assert cursor
    # Polling from the cursor returns nothing new...
    later = api.get("/v1/messages", token, params={"after": cursor})
    assert later.status_code == 200, later.text
    assert later.json()["messages"] == []
    assert later.json()["next_cursor"] == cursor
    # ...until the agent writes again.
    follow_up = api.post(
        f"/v1/conversations/{conversation_id}/replies",
        agent1,
        json={"type": "text", "text": "还有其他问题吗？"},
    )
    assert follow_up.status_code == 201, follow_up.text
    newer = api.get("/v1/messages", token, params={"after": cursor}).json()["messages"]
    assert [m["content"] for m in newer] == [{"text": "还有其他问题吗？"}]
    api.wait_for_delivery(agent1, conversation_id, follow_up.json()["message_id"], "delivered")
