"""Specification: an agent's reply is stored and sent once per `client_message_id`, however
often the request is retried (mobile network, double click): 201, then 200 with the same
message id, and one send to the customer."""

import pytest
from kefu import events
from kefu.outbound import deliver_reply
from kefu.storage.messages import Message

from tests.support.factories import customer_says, make_shop
from tests.support.wechat import wechat_standin

SEND = "/cgi-bin/message/custom/send"
REPLY = {"type": "text", "text": "您好，订单已发出。", "client_message_id": "r-1"}


@pytest.fixture
def conv(kefu_env):
    make_shop("shop-a")
    return customer_says("shop-a", "openid-1", "发货了吗？").conversation_id


@pytest.fixture
def agent(gateway, staff_token, conv):
    token = staff_token("shop-a", "xiaowang", "agent")
    assert gateway.post(f"/v1/conversations/{conv}/claim", token=token).status == 200
    return token


def _replies(conv):
    return [m for m in Message.query(f"shop-a#{conv}") if m.direction == "out"]


def test_a_retried_reply_is_stored_and_sent_once(gateway, agent, conv, kefu_env, monkeypatch):
    first = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    again = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)

    assert (first.status, again.status) == (201, 200), again.text
    assert again.json()["message_id"] == first.json()["message_id"]
    assert again.json()["content"] == first.json()["content"]
    assert len(_replies(conv)) == 1
    # However many copies of reply.created exist, outbound sends once.
    with wechat_standin(monkeypatch, shops=("shop-a",)) as wechat:
        outcomes = [
            deliver_reply(e, attempt=1, last_attempt=False).status
            for e in kefu_env.events("reply.created")
        ]
        assert sorted(outcomes)[0] == "delivered"
        assert len(wechat.requests(SEND)) == 1


def test_replies_without_an_id_or_with_another_id_are_new(gateway, agent, conv):
    ids = [
        gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=body).json()[
            "message_id"
        ]
        for body in (
            {"type": "text", "text": "一"},
            {"type": "text", "text": "一"},
            {**REPLY, "client_message_id": "r-2"},
            {**REPLY, "client_message_id": "r-3"},
        )
    ]
    assert len(set(ids)) == 4
    assert len(_replies(conv)) == 4


def test_the_same_id_in_another_conversation_is_another_reply(gateway, agent, conv):
    other = customer_says("shop-a", "openid-2", "在吗").conversation_id
    assert gateway.post(f"/v1/conversations/{other}/claim", token=agent).status == 200
    a = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    b = gateway.post(f"/v1/conversations/{other}/replies", token=agent, json_body=REPLY)
    assert (a.status, b.status) == (201, 201)
    assert a.json()["message_id"] != b.json()["message_id"]


def test_a_retry_after_the_conversation_was_resolved_and_closed_still_answers_the_first(
    gateway, agent, conv
):
    from kefu.storage.conversations import Conversation

    first = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    Conversation("shop-a", conv).update(actions=[Conversation.status.set("closed")])
    again = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    assert again.status == 200, again.text
    assert again.json()["message_id"] == first.json()["message_id"]
    new = gateway.post(
        f"/v1/conversations/{conv}/replies",
        token=agent,
        json_body={**REPLY, "client_message_id": "r-new"},
    )
    assert (new.status, new.error["code"]) == (409, "closed")


def test_a_reply_that_could_not_be_queued_is_queued_by_its_retry(
    gateway, agent, conv, kefu_env, monkeypatch
):
    real_publish = events.publish

    def down(*published):
        raise RuntimeError("EventBridge unavailable")

    monkeypatch.setattr(events, "publish", down)
    failed = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    assert failed.status == 503
    (stored,) = _replies(conv)
    assert stored.delivery_status == "failed"
    monkeypatch.setattr(events, "publish", real_publish)

    retried = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)

    assert retried.status == 200, retried.text
    assert retried.json()["message_id"] == stored.message_id
    assert retried.json()["delivery_status"] == "pending"
    assert len(_replies(conv)) == 1
    assert [e["data"]["message_id"] for e in kefu_env.events("reply.created")] == [
        stored.message_id
    ]


def test_a_retry_of_a_delivered_reply_publishes_nothing_again(gateway, agent, conv, kefu_env):
    first = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    assert len(kefu_env.events("reply.created")) == 1
    Message(f"shop-a#{conv}", first.json()["cursor"]).update(
        actions=[Message.delivery_status.set("delivered"), Message.delivery_attempts.set(1)]
    )
    again = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY)
    assert (again.status, again.json()["delivery_status"]) == (200, "delivered")
    assert len(kefu_env.events("reply.created")) == 1  # still only the first


# --------------------------------------------------------------- resending, on the agent's word


def _mark(conv, cursor, status, error=None):
    actions = [Message.delivery_status.set(status)]
    if error:
        actions.append(Message.delivery_error.set(error))
    Message(f"shop-a#{conv}", cursor).update(actions=actions)


def test_an_agent_resends_a_reply_whose_delivery_is_unknown(
    gateway, agent, conv, kefu_env, monkeypatch
):
    sent = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY).json()
    _mark(conv, sent["cursor"], "unknown", "delivery unknown: ...")
    listed = gateway.get(f"/v1/conversations/{conv}/messages", token=agent).json()["messages"]
    assert [m["delivery_status"] for m in listed if m["direction"] == "out"] == ["unknown"]

    url = f"/v1/conversations/{conv}/messages/{sent['message_id']}/resend"
    resent = gateway.post(url, token=agent)

    assert resent.status == 200, resent.text
    assert resent.json()["message_id"] == sent["message_id"]
    assert resent.json()["delivery_status"] == "pending"
    assert "delivery_error" not in resent.json()
    published = kefu_env.events("reply.created")
    assert [e["data"]["message_id"] for e in published] == [sent["message_id"]] * 2
    assert published[0]["event_id"] != published[1]["event_id"]
    with wechat_standin(monkeypatch, shops=("shop-a",)) as wechat:
        assert deliver_reply(published[1], attempt=1, last_attempt=False).status == "delivered"
        assert len(wechat.requests(SEND)) == 1
    # Delivered now: a second resend is refused.
    again = gateway.post(url, token=agent)
    assert (again.status, again.error["code"]) == (409, "not_resendable")


def test_resending_is_audited(gateway, agent, conv, staff_token):
    sent = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY).json()
    _mark(conv, sent["cursor"], "failed", "WeChat 45009")
    url = f"/v1/conversations/{conv}/messages/{sent['message_id']}/resend"
    assert gateway.post(url, token=agent).status == 200
    from kefu.storage.audit import AuditRecord

    records = [r for r in AuditRecord.query("shop-a") if r.action == "message.resent"]
    assert len(records) == 1
    assert records[0].target_id == sent["message_id"]


def test_resend_refuses_pending_unknown_ids_and_other_peoples_conversations(
    gateway, agent, conv, staff_token
):
    sent = gateway.post(f"/v1/conversations/{conv}/replies", token=agent, json_body=REPLY).json()
    base = f"/v1/conversations/{conv}/messages"
    pending = gateway.post(f"{base}/{sent['message_id']}/resend", token=agent)
    assert (pending.status, pending.error["code"]) == (409, "not_resendable")
    for bad in ("msg_0000000000000ffffffffff", "nonsense"):
        missing = gateway.post(f"{base}/{bad}/resend", token=agent)
        assert (missing.status, missing.error["code"]) == (404, "message_not_found")
    other = staff_token("shop-a", "xiaoli", "agent")
    _mark(conv, sent["cursor"], "unknown")
    theirs = gateway.post(f"{base}/{sent['message_id']}/resend", token=other)
    assert (theirs.status, theirs.error["code"]) == (403, "not_your_conversation")
