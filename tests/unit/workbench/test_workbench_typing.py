"""Specification: typing is relayed to WeChat within the 48-hour window, skipped otherwise."""

import pytest
from kefu.channels.wechat.api import WeChatApi, WeChatApiError
from kefu.conversations import service
from kefu.errors import Forbidden
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation
from kefu.workbench import typing_relay
from kefu.workbench.typing_relay import TypingRequest


@pytest.fixture
def relayed(monkeypatch):
    calls = []
    monkeypatch.setattr(typing_relay, "WINDOW_MS", typing_relay.WINDOW_MS)
    monkeypatch.setattr(
        "kefu.channels.wechat.tokens.access_token", lambda shop_id, creds, api: "TOKEN"
    )
    monkeypatch.setattr(
        WeChatApi,
        "set_typing",
        lambda self, token, touser, typing: calls.append((token, touser, typing)),
    )
    return calls


@pytest.fixture
def mine(shop, conversation):
    conv = conversation("openid-xm").conversation_id
    service.claim(shop["agent1"], conv)
    return conv


def test_typing_is_relayed_to_wechat_within_48_hours(shop, mine, relayed):
    assert typing_relay.relay_typing(shop["agent1"], mine, TypingRequest(typing=True)) == {
        "relayed": True
    }
    assert relayed == [("TOKEN", "openid-xm", True)]


def test_typing_is_skipped_outside_the_window_or_off_wechat(shop, mine, relayed):
    Conversation("shop-a", mine).update(
        actions=[Conversation.last_customer_message_at.set(now_ms() - 49 * 3600 * 1000)]
    )
    out = typing_relay.relay_typing(shop["agent1"], mine, TypingRequest(typing=True))
    assert out == {"relayed": False, "reason": "outside_48h_window"}
    Conversation("shop-a", mine).update(actions=[Conversation.channel.set("app")])
    out = typing_relay.relay_typing(shop["agent1"], mine, TypingRequest(typing=False))
    assert out == {"relayed": False, "reason": "not_wechat"}
    assert relayed == []


def test_a_wechat_error_is_not_the_agents_problem(shop, mine, monkeypatch, relayed):
    def refuse(self, token, touser, typing):
        raise WeChatApiError(45015, "response out of time limit")

    monkeypatch.setattr(WeChatApi, "set_typing", refuse)
    out = typing_relay.relay_typing(shop["agent1"], mine, TypingRequest(typing=True))
    assert out == {"relayed": False, "reason": "wechat_error"}


def test_only_the_assigned_agent_types(shop, mine, relayed):
    with pytest.raises(Forbidden):
        typing_relay.relay_typing(shop["agent2"], mine, TypingRequest(typing=True))
