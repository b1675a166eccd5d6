"""Specification: a reply reaches the customer at most once. The attempt is recorded before the
call to WeChat; when its outcome is lost (the instance died, the answer timed out) the reply is
marked `unknown` for the agent — WeChat's send API has no idempotency key, so kefu never sends
it again on its own."""

import pytest
import urllib3
from kefu import outbound
from kefu.channels.wechat.api import WeChatApi, WeChatUnavailable
from kefu.conversations import replies, service
from kefu.conversations.content import TextMessage
from kefu.ids import now_ms
from kefu.outbound import Delivery, RetryLater, deliver_reply
from kefu.storage.messages import Message

from tests.support.factories import customer_says, make_shop, make_staff
from tests.support.wechat import wechat_standin

SEND = "/cgi-bin/message/custom/send"
OPENID = "oCustomerOpenId000000000001"


class Crash(BaseException):
    """The instance dies: no except clause of the code under test runs."""


@pytest.fixture
def wechat(kefu_env, monkeypatch):
    make_shop("shop-a")
    with wechat_standin(monkeypatch, shops=("shop-a",)) as standin:
        yield standin


@pytest.fixture
def reply_event(kefu_env, wechat):
    agent = make_staff("shop-a", "agent1")
    cid = customer_says("shop-a", OPENID, "在吗？").conversation_id
    service.claim(agent, cid)
    view = replies.reply(agent, cid, TextMessage(text="在的，请问有什么可以帮您？"))
    (detail,) = [
        e for e in kefu_env.events("reply.created") if e["data"]["message_id"] == view["message_id"]
    ]
    return detail


def _message(detail):
    data = detail["data"]
    return Message.get(f"{detail['shop_id']}#{data['conversation_id']}", data["msg_key"])


def _age_claim(detail, ms=120_000):
    """The claim is older than the takeover delay (the SQS message came back later)."""
    _message(detail).update(actions=[Message.delivery_claimed_at.set(now_ms() - ms)])


def test_a_lost_delivered_write_does_not_send_the_reply_again(
    kefu_env, wechat, reply_event, monkeypatch
):
    real_send = WeChatApi.send_custom_message

    def send_then_die(self, token, payload):
        real_send(self, token, payload)
        raise Crash  # WeChat delivered it; "delivered" is never written

    monkeypatch.setattr(WeChatApi, "send_custom_message", send_then_die)
    with pytest.raises(Crash):
        deliver_reply(reply_event, attempt=1, last_attempt=False)
    monkeypatch.setattr(WeChatApi, "send_custom_message", real_send)
    stuck = _message(reply_event)
    assert stuck.delivery_status == "sending" and stuck.delivery_call_at is not None
    _age_claim(reply_event)

    result = deliver_reply(reply_event, attempt=2, last_attempt=False)

    assert result.status == "unknown"
    assert len(wechat.requests(SEND)) == 1  # the customer got it once
    message = _message(reply_event)
    assert message.delivery_status == "unknown"
    assert "not sent again" in message.delivery_error
    assert message.delivery_call_at is None
    (event,) = kefu_env.events("message.undeliverable")
    assert event["data"]["delivery_status"] == "unknown"
    assert event["data"]["message_id"] == reply_event["data"]["message_id"]
    # A further copy of the event changes nothing.
    assert deliver_reply(reply_event, attempt=3, last_attempt=False).status == "skipped"
    assert len(wechat.requests(SEND)) == 1


def test_an_instance_that_died_before_calling_wechat_is_taken_over_and_delivers(
    wechat, reply_event, monkeypatch
):
    def die_before_sending(*args, **kwargs):
        raise Crash

    real_token = outbound.access_token
    monkeypatch.setattr(outbound, "access_token", die_before_sending)
    with pytest.raises(Crash):
        deliver_reply(reply_event, attempt=1, last_attempt=False)
    monkeypatch.setattr(outbound, "access_token", real_token)
    _age_claim(reply_event)

    assert deliver_reply(reply_event, attempt=2, last_attempt=False) == Delivery("delivered")
    assert len(wechat.requests(SEND)) == 1


def test_a_send_whose_answer_times_out_is_unknown_not_retried(
    kefu_env, wechat, reply_event, monkeypatch
):
    real_send = WeChatApi.send_custom_message

    def send_then_time_out(self, token, payload):
        real_send(self, token, payload)
        raise WeChatUnavailable("POST send failed: ReadTimeoutError") from (
            urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")
        )

    monkeypatch.setattr(WeChatApi, "send_custom_message", send_then_time_out)
    result = deliver_reply(reply_event, attempt=1, last_attempt=False)

    assert result.status == "unknown"  # no RetryLater: SQS does not bring it back
    assert _message(reply_event).delivery_status == "unknown"
    assert len(wechat.requests(SEND)) == 1


def test_a_definite_failure_is_still_retried_and_clears_the_call_record(wechat, reply_event):
    wechat.fail_next(SEND, errcode=45009)
    with pytest.raises(RetryLater):
        deliver_reply(reply_event, attempt=1, last_attempt=False)
    message = _message(reply_event)
    assert (message.delivery_status, message.delivery_call_at) == ("retrying", None)
    assert deliver_reply(reply_event, attempt=2, last_attempt=False).status == "delivered"


# --- which transport failures may have reached WeChat --------------------------------------
# (with real sockets: tests/integration/test_outbound_transport.py)


def test_an_http_5xx_from_wechats_front_end_was_not_sent():
    assert (
        outbound._maybe_sent(WeChatUnavailable("POST send answered HTTP 503", status=503)) is False
    )


# --- one write claims the reply and records the call -------------------------------------------

TOKEN = "/cgi-bin/stable_token"


def test_the_claim_and_the_record_of_the_call_are_one_write_made_just_before_the_send(
    wechat, reply_event, monkeypatch
):
    seen_at_send = []
    real_send = WeChatApi.send_custom_message

    def send(self, token, payload):
        stored = _message(reply_event)
        seen_at_send.append((stored.delivery_status, stored.delivery_call_at is not None))
        return real_send(self, token, payload)

    monkeypatch.setattr(WeChatApi, "send_custom_message", send)
    updates = []
    real_update = Message.update

    def counted(self, *args, **kwargs):
        updates.append(kwargs.get("condition") is not None)
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(Message, "update", counted)

    assert deliver_reply(reply_event, attempt=1, last_attempt=False) == Delivery("delivered")
    assert seen_at_send == [("sending", True)]
    assert updates == [True, False]  # the conditional claim (with the call's record), the outcome
    message = _message(reply_event)
    assert (message.delivery_attempts, message.delivery_call_at) == (1, None)


def test_a_failure_before_the_call_is_recorded_on_the_reply_without_a_call_record(
    wechat, reply_event
):
    wechat.fail_next(TOKEN, errcode=45009)
    with pytest.raises(RetryLater):
        deliver_reply(reply_event, attempt=1, last_attempt=False)
    message = _message(reply_event)
    assert (message.delivery_status, message.delivery_attempts) == ("retrying", 1)
    assert message.delivery_call_at is None
    assert deliver_reply(reply_event, attempt=2, last_attempt=False) == Delivery("delivered")
    assert len(wechat.requests(SEND)) == 1


def test_a_copy_of_a_delivered_reply_is_skipped_even_when_the_token_fetch_fails(
    wechat, reply_event, monkeypatch
):
    assert deliver_reply(reply_event, attempt=1, last_attempt=False) == Delivery("delivered")

    def unavailable(*args, **kwargs):
        raise WeChatUnavailable("token endpoint down")

    monkeypatch.setattr(outbound, "access_token", unavailable)
    result = deliver_reply(reply_event, attempt=1, last_attempt=False)

    assert result.status == "skipped"  # not RetryLater: nothing to retry
    assert _message(reply_event).delivery_status == "delivered"
    assert len(wechat.requests(SEND)) == 1
