"""What happens to a reply when WeChat's customer-service API refuses it, as the agent sees it
on the message (delivery_status, delivery_error) and as WeChat sees it (the stand-in's log).

The stand-in fails the next calls to /cgi-bin/message/custom/send when told to; each test waits
for its own reply's outcome, so no failure is left for another test to meet.
"""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import CUSTOM_SEND, STABLE_TOKEN, Api, StandIn, unique

pytestmark = pytest.mark.integration


@pytest.fixture
def conversation(api: Api, agent1: str, resolve_later):
    """`conversation(code, text)`: a new customer (login `code`) writes `text`; agent1 will
    claim it. Returns (conversation_id, openid, customer token)."""

    def start(code: str, text: str) -> tuple[str, str, str]:
        customer = api.customer_login("demo", code)
        sent = api.customer_says(customer["token"], text)
        resolve_later(agent1, sent["conversation_id"])
        return sent["conversation_id"], StandIn.openid("demo", code), customer["token"]

    return start


def test_reply_outside_the_48_hour_window_is_undeliverable(
    api: Api, standin: StandIn, agent1: str, conversation
):
    conversation_id, openid, customer = conversation(unique("late"), "上周的订单")
    standin.fail(CUSTOM_SEND, errcode=45015)

    reply = api.claim_and_reply(agent1, conversation_id, "抱歉回复晚了")

    message = api.wait_for_delivery(agent1, conversation_id, reply["message_id"], "undeliverable")
    assert "48 hours" in message["delivery_error"]
    assert "45015" in message["delivery_error"]
    # Not retried: a retry cannot reopen the window.
    sends = standin.sent_to(openid)
    assert [s["errcode"] for s in sends] == [45015]
    # The customer's client sees the reply was not delivered, but not why.
    mine = api.get("/v1/messages", customer).json()["messages"]
    assert mine[-1]["message_id"] == reply["message_id"]
    assert mine[-1]["delivery_status"] == "undeliverable"
    assert "delivery_error" not in mine[-1]


def test_rate_limited_reply_is_retried_after_a_back_off(
    api: Api, standin: StandIn, agent1: str, conversation
):
    conversation_id, openid, _ = conversation(unique("busy"), "在线等")
    # 45009: the API quota is used up. kefu backs off by hiding the SQS message (10 s after
    # the first attempt, 40 s after the second: kefu.outbound.backoff_seconds), then tries
    # again. One failure keeps the test at ~12 s; unit tests cover the later attempts.
    standin.fail(CUSTOM_SEND, errcode=45009, times=1)

    reply = api.claim_and_reply(agent1, conversation_id, "久等了")

    retrying = api.wait_for_delivery(agent1, conversation_id, reply["message_id"], "retrying")
    assert "45009" in retrying["delivery_error"]
    delivered = api.wait_for_delivery(
        agent1, conversation_id, reply["message_id"], "delivered", timeout=20
    )
    assert "delivery_error" not in delivered
    first, second = standin.sent_to(openid)
    assert (first["errcode"], second["errcode"]) == (45009, 0)
    assert second["json"] == first["json"]
    assert second["time"] - first["time"] >= 9.5  # the back-off was honoured


def test_rejected_access_token_is_refreshed_and_the_reply_delivered(
    api: Api, standin: StandIn, agent1: str, conversation
):
    conversation_id, openid, _ = conversation(unique("token"), "你好")
    standin.fail(CUSTOM_SEND, errcode=40001)  # "invalid credential, access_token is invalid"
    tokens_before = len(standin.requests(STABLE_TOKEN))

    reply = api.claim_and_reply(agent1, conversation_id, "您好，请问有什么可以帮您？")

    api.wait_for_delivery(agent1, conversation_id, reply["message_id"], "delivered")
    first, second = standin.sent_to(openid)
    assert (first["errcode"], second["errcode"]) == (40001, 0)
    # stable_token returned the same token, so kefu forced a refresh and sent with the new one.
    token_calls = standin.requests(STABLE_TOKEN)[tokens_before:]
    assert [call["json"]["force_refresh"] for call in token_calls] == [False, True]
    assert first["query"]["access_token"] != second["query"]["access_token"]
