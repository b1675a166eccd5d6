"""The bot through the local stack: a supervisor turns it on, a customer asks on WeChat
(intake -> EventBridge -> AutoreplyQueue -> the autoreply function), the bot's answer reaches
WeChat (reply.created -> outbound -> the stand-in); "转人工" hands the conversation to people
and routing gives it to an online agent."""

from __future__ import annotations

import random

import pytest

from infra.local.push import send_push, text_message
from tests.integration.kefu_http import Api, StandIn, publish_knowledge, unique, wait_for

pytestmark = pytest.mark.integration

ANSWER = "退货运费由我们承担，请放心寄回～"


def test_the_bot_answers_on_wechat_then_hands_off_to_an_online_agent(
    api: Api, owner: str, standin: StandIn
):
    question = unique("退货运费谁出")
    created = api.post(
        "/v1/knowledge/entries",
        owner,
        json={
            "question": question,
            "similar_questions": ["退货运费谁承担"],
            "answer": [{"type": "text", "content": ANSWER}],
        },
    )
    assert created.status_code == 201, created.text
    publish_knowledge(api, owner)
    on = api.request("PUT", "/v1/bot/settings", owner, json={"enabled": True})
    assert on.status_code == 200, on.text
    username = unique("botagent").lower().replace("_", "-")[:30]
    made = api.post(
        "/v1/staff",
        owner,
        json={"username": username, "role": "agent", "password": "Bot-pass-0001"},
    )
    assert made.status_code == 201, made.text
    agent = api.staff_login("demo", username, password="Bot-pass-0001")
    try:
        code = unique("botcust")
        openid = StandIn.openid("demo", code)
        msg_id = random.randint(10**12, 10**13)
        status, _ = send_push(api.base_url, "demo", text_message("demo", openid, question, msg_id))
        assert status == 200
        wait_for(
            lambda: [r for r in standin.sent_to(openid) if r["json"]["text"]["content"] == ANSWER],
            timeout=30,
            what="the bot's answer to reach WeChat",
        )

        online = api.request(
            "PUT", "/v1/agents/me/status", agent, json={"status": "online", "capacity": 5}
        )
        assert online.status_code == 200, online.text
        status, _ = send_push(
            api.base_url, "demo", text_message("demo", openid, "转人工", msg_id + 1)
        )
        assert status == 200

        def handed_over() -> dict | None:
            page = api.get("/v1/workbench/views/all", owner).json()["conversations"]
            mine = [c for c in page if (c.get("handoff") or {}).get("transcript")]
            for conv in mine:
                if any(t["text"] == question for t in conv["handoff"]["transcript"]):
                    return conv if conv.get("assignee") else None
            return None

        conv = wait_for(handed_over, timeout=30, what="routing to assign the handed-off chat")
        assert conv["handoff"]["reason"] == "requested"
        assert conv["status"] == "assigned"
    finally:
        api.request("PUT", "/v1/bot/settings", owner, json={"enabled": False})
        api.request("PUT", "/v1/agents/me/status", agent, json={"status": "offline"})
