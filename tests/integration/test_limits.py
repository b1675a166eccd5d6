"""Limits through the local gateway, as a client sees them: a customer sending too fast gets
429 with Retry-After, and every message answered 2xx is stored; an agent's retried reply is
stored and sent once."""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import Api, StandIn, unique

pytestmark = pytest.mark.integration


def test_a_customer_sending_too_fast_gets_429_and_every_2xx_is_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu import limits

    # The functions run in this process: a default of 3 per 10 s keeps the test short and
    # independent of the machine's speed (the demo shops set no limit of their own).
    monkeypatch.setattr(limits, "DEFAULT_MESSAGES_PER_WINDOW", 3)
    token = api.customer_login("demo", unique("limits"))["token"]
    accepted: list[str] = []
    refused = None
    # 7 sends span at most two windows (well under 10 s): at most 6 fit, so one is refused.
    for n in range(7):
        resp = api.post("/v1/messages", token, json={"type": "text", "text": f"快 {n}"})
        if resp.status_code == 429:
            refused = resp
            break
        assert resp.status_code == 201, resp.text
        accepted.append(resp.json()["message"]["message_id"])
    assert refused is not None, "7 messages in a row were all accepted"
    assert 3 <= len(accepted) <= 6
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.json()["error"]["code"] == "rate_limited"
    stored = api.get("/v1/messages?limit=100", token).json()["messages"]
    assert [m["message_id"] for m in stored] == accepted


def test_a_retried_reply_is_sent_to_the_customer_once(
    api: Api, standin: StandIn, agent1: str, resolve_later
) -> None:
    code = unique("reply-once")
    customer = api.customer_login("demo", code)
    conversation_id = api.customer_says(customer["token"], "在吗？")["conversation_id"]
    assert api.post(f"/v1/conversations/{conversation_id}/claim", agent1).status_code == 200
    resolve_later(agent1, conversation_id)
    body = {"type": "text", "text": "在的。", "client_message_id": unique("r")}
    url = f"/v1/conversations/{conversation_id}/replies"
    first = api.post(url, agent1, json=body)
    again = api.post(url, agent1, json=body)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["message_id"] == first.json()["message_id"]
    api.wait_for_delivery(agent1, conversation_id, first.json()["message_id"], "delivered")
    assert len(standin.sent_to(StandIn.openid("demo", code))) == 1
    replies = [
        m for m in api.conversation_messages(agent1, conversation_id) if m["direction"] == "out"
    ]
    assert [m["message_id"] for m in replies] == [first.json()["message_id"]]
