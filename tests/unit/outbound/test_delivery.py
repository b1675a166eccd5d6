"""Specification: every agent reply reaches its channel once, and its fate is recorded on the
message: delivered, undeliverable (with a reason the agent can read) or retried later."""

import pytest
from kefu.channels.wechat.tokens import clear_local_cache
from kefu.conversations import replies, service
from kefu.conversations.content import TextMessage
from kefu.conversations.inbound import InboundMessage, receive_customer_message
from kefu.customers import APP_USER, Identity, resolve_customer
from kefu.ids import now_ms
from kefu.outbound import Delivery, RetryLater, backoff_seconds, deliver_reply
from kefu.storage.messages import Message
from kefu.storage.runtime import AccessTokenCache

from tests.support.factories import customer_says, make_shop, make_staff
from tests.support.wechat import wechat_standin

SEND = "/cgi-bin/message/custom/send"
TOKEN = "/cgi-bin/stable_token"
OPENID = "oCustomerOpenId000000000001"
TEXT = "您好！您的订单已发货，请注意查收 📦"


@pytest.fixture
def wechat(kefu_env, monkeypatch):
    make_shop("shop-a")
    with wechat_standin(monkeypatch, shops=("shop-a",)) as standin:
        yield standin


@pytest.fixture
def agent(wechat):
    return make_staff("shop-a", "agent1")


@pytest.fixture
def conversation(agent):
    cid = customer_says("shop-a", OPENID, "我的快递到哪了？").conversation_id
    service.claim(agent, cid)
    return cid


@pytest.fixture
def make_reply(kefu_env, agent, conversation):
    """Reply as the agent; returns the `reply.created` event detail outbound receives."""

    def reply(text=TEXT, conversation_id=conversation):
        view = replies.reply(agent, conversation_id, TextMessage(text=text))
        (detail,) = [
            e
            for e in kefu_env.events("reply.created")
            if e["data"]["message_id"] == view["message_id"]
        ]
        return detail

    return reply


def _message(detail):
    data = detail["data"]
    return Message.get(f"{detail['shop_id']}#{data['conversation_id']}", data["msg_key"])


def _deliver(detail, *, attempt=1, last_attempt=False):
    return deliver_reply(detail, attempt=attempt, last_attempt=last_attempt)


# --- delivered ---------------------------------------------------------------------------------


def test_a_text_reply_is_sent_to_the_customer_and_marked_delivered(kefu_env, wechat, make_reply):
    detail = make_reply()

    assert _deliver(detail) == Delivery("delivered")

    (sent,) = wechat.requests(SEND)
    assert sent["errcode"] == 0
    assert sent["json"] == {"touser": OPENID, "msgtype": "text", "text": {"content": TEXT}}
    assert TEXT in sent["body"]  # UTF-8 on the wire, not \\u escapes WeChat would show literally
    message = _message(detail)
    assert (message.delivery_status, message.delivery_attempts) == ("delivered", 1)
    assert message.delivered_at and message.delivery_error is None
    (event,) = kefu_env.events("message.delivered")
    assert event["event_id"] == f"message.delivered:{detail['data']['message_id']}"
    assert event["data"] == {
        "conversation_id": detail["data"]["conversation_id"],
        "message_id": detail["data"]["message_id"],
        "channel": "wechat_miniprogram",
        # As reply.created carried it: the notifier tells them without reading the conversation.
        "assignee": detail["data"]["assignee"],
    }
    assert detail["data"]["assignee"] == "agent1"


def test_the_same_event_delivered_twice_sends_once(kefu_env, wechat, make_reply):
    detail = make_reply()
    assert _deliver(detail).status == "delivered"
    assert _deliver(detail, attempt=2).status == "skipped"
    assert len(wechat.requests(SEND)) == 1
    assert _message(detail).delivery_attempts == 1
    assert len(kefu_env.events("message.delivered")) == 1


def test_a_delivery_another_instance_is_sending_is_skipped(wechat, make_reply):
    detail = make_reply()
    _message(detail).update(
        actions=[
            Message.delivery_status.set("sending"),
            Message.delivery_claimed_at.set(now_ms()),
        ]
    )
    assert _deliver(detail).status == "skipped"
    assert wechat.requests(SEND) == []


def test_a_delivery_stuck_in_sending_is_taken_over_after_a_minute(wechat, make_reply):
    detail = make_reply()
    _message(detail).update(
        actions=[
            Message.delivery_status.set("sending"),
            Message.delivery_claimed_at.set(now_ms() - 120_000),
        ]
    )
    assert _deliver(detail).status == "delivered"
    assert len(wechat.requests(SEND)) == 1


# --- the access token --------------------------------------------------------------------------


def test_the_access_token_is_shared_through_dynamodb_and_reused(wechat, make_reply):
    first, second = make_reply("第一条"), make_reply("第二条")

    assert _deliver(first).status == "delivered"
    clear_local_cache()  # another Lambda instance: nothing cached in memory
    assert _deliver(second).status == "delivered"

    assert len(wechat.requests(TOKEN)) == 1
    sends = wechat.requests(SEND)
    assert len(sends) == 2
    assert sends[0]["query"]["access_token"] == sends[1]["query"]["access_token"]
    cached = AccessTokenCache.get(AccessTokenCache.key("shop-a"))
    assert cached.access_token == sends[0]["query"]["access_token"]


def test_an_expired_token_is_refreshed_once_and_the_reply_still_delivered(wechat, make_reply):
    first, second = make_reply("第一条"), make_reply("第二条")
    assert _deliver(first).status == "delivered"
    wechat.expire_tokens()

    assert _deliver(second).status == "delivered"

    tokens = wechat.requests(TOKEN)
    assert len(tokens) == 2  # the first fetch and one refresh
    assert tokens[1]["json"]["force_refresh"] is False  # a normal call sufficed
    assert [s["errcode"] for s in wechat.requests(SEND)] == [0, 42001, 0]
    assert _message(second).delivery_status == "delivered"


def test_a_token_wechat_keeps_rejecting_is_retried_later(wechat, make_reply):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=40001, times=2)
    with pytest.raises(RetryLater):
        _deliver(detail)
    assert len(wechat.requests(SEND)) == 2  # refreshed once, not in a loop
    assert _message(detail).delivery_status == "retrying"


# --- undeliverable -----------------------------------------------------------------------------


def test_outside_the_48_hour_window_the_reply_is_undeliverable_with_the_reason(
    kefu_env, wechat, make_reply
):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=45015)

    result = _deliver(detail)

    assert result.status == "undeliverable"
    assert "48 hours" in result.reason and "45015" in result.reason
    message = _message(detail)
    assert (message.delivery_status, message.delivery_error) == ("undeliverable", result.reason)
    (event,) = kefu_env.events("message.undeliverable")
    assert event["data"]["message_id"] == detail["data"]["message_id"]
    assert event["data"]["reason"] == result.reason
    assert kefu_env.events("message.delivered") == []


def test_when_the_reply_quota_is_used_up_the_reply_is_undeliverable(kefu_env, wechat, make_reply):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=45047)

    result = _deliver(detail)

    assert result.status == "undeliverable"
    assert "quota" in result.reason and "45047" in result.reason
    assert _message(detail).delivery_status == "undeliverable"
    assert len(kefu_env.events("message.undeliverable")) == 1


def test_an_undeliverable_reply_is_not_sent_again_on_a_repeated_event(wechat, make_reply):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=45015)
    _deliver(detail)
    assert _deliver(detail, attempt=2).status == "skipped"
    assert len(wechat.requests(SEND)) == 1


# --- retried later -----------------------------------------------------------------------------


def test_wechat_rate_limiting_leaves_the_reply_for_a_later_attempt(kefu_env, wechat, make_reply):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=45009)

    with pytest.raises(RetryLater) as err:
        _deliver(detail)

    assert "45009" in err.value.reason
    message = _message(detail)
    assert message.delivery_status == "retrying"
    assert "45009" in message.delivery_error
    assert kefu_env.events("message.delivered") == []
    assert kefu_env.events("message.undeliverable") == []


def test_the_last_attempt_that_fails_marks_the_reply_failed(wechat, make_reply):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=45009, times=2)
    with pytest.raises(RetryLater):
        _deliver(detail, attempt=1)
    with pytest.raises(RetryLater):
        _deliver(detail, attempt=2, last_attempt=True)
    message = _message(detail)
    assert (message.delivery_status, message.delivery_attempts) == ("failed", 2)


def test_a_retry_after_a_transient_failure_delivers(kefu_env, wechat, make_reply):
    detail = make_reply()
    wechat.fail_next(SEND, errcode=-1)
    with pytest.raises(RetryLater):
        _deliver(detail)
    assert _deliver(detail, attempt=2).status == "delivered"
    message = _message(detail)
    assert (message.delivery_status, message.delivery_error) == ("delivered", None)
    assert len(kefu_env.events("message.delivered")) == 1


@pytest.mark.parametrize("path", [SEND, TOKEN])
def test_wechat_answering_503_is_retried_later(wechat, make_reply, path):
    detail = make_reply()
    wechat.fail_next(path, http_status=503)
    with pytest.raises(RetryLater):
        _deliver(detail)
    assert _message(detail).delivery_status == "retrying"


def test_the_token_endpoint_failing_during_a_refresh_is_retried_later(wechat, make_reply):
    first, second = make_reply("第一条"), make_reply("第二条")
    assert _deliver(first).status == "delivered"
    wechat.expire_tokens()
    wechat.fail_next(TOKEN, http_status=503)
    with pytest.raises(RetryLater):
        _deliver(second)
    assert _message(second).delivery_status == "retrying"
    assert _deliver(second, attempt=2).status == "delivered"


@pytest.mark.parametrize("errcode", [45009, 40125])
def test_wechat_refusing_the_token_is_retried_later_then_fails(wechat, make_reply, errcode):
    detail = make_reply()
    wechat.fail_next(TOKEN, errcode=errcode, times=2)
    with pytest.raises(RetryLater):
        _deliver(detail)
    with pytest.raises(RetryLater):
        _deliver(detail, attempt=2, last_attempt=True)
    assert _message(detail).delivery_status == "failed"
    assert wechat.requests(SEND) == []


# --- other channels ----------------------------------------------------------------------------


def test_a_reply_to_an_app_user_is_delivered_without_calling_wechat(kefu_env, wechat, agent):
    identity = resolve_customer("shop-a", Identity(APP_USER, "u-1001"))
    at = now_ms()
    received = receive_customer_message(
        InboundMessage(
            shop_id="shop-a",
            channel="app",
            identity=identity,
            reply_to="app_user:u-1001",
            type="text",
            content={"text": "hello"},
            dedupe_key=f"app:u-1001:{at}",
            received_at=at,
        )
    )
    service.claim(agent, received.conversation_id)
    view = replies.reply(agent, received.conversation_id, TextMessage(text="hi there"))
    (detail,) = kefu_env.events("reply.created")
    assert detail["data"]["reply_to"] == "app_user:u-1001"

    assert _deliver(detail) == Delivery("delivered")

    assert wechat.requests() == []
    message = _message(detail)
    assert (message.message_id, message.delivery_status) == (view["message_id"], "delivered")
    (event,) = kefu_env.events("message.delivered")
    assert event["data"]["channel"] == "app"


# --- back-off ----------------------------------------------------------------------------------


def test_the_back_off_grows_with_each_attempt_and_is_capped():
    delays = [backoff_seconds(n) for n in range(1, 9)]
    assert delays[:4] == [10, 40, 160, 640]
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert max(delays) == backoff_seconds(100) == 900
    assert backoff_seconds(0) == 10
