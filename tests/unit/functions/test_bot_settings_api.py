"""Specification: the bot settings over HTTP — supervisors and owners read and replace them,
the change is audited, and it decides whether the shop's new conversations open with the bot."""

import pytest
from kefu.audit import list_audit

from tests.support.bot import reset_bot_caches
from tests.support.factories import make_shop


@pytest.fixture
def shop(kefu_env):
    reset_bot_caches()
    make_shop("shop-a")
    yield
    reset_bot_caches()


def test_a_supervisor_turns_the_bot_on_and_new_conversations_open_with_it(
    gateway, staff_token, shop
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    shown = gateway.get("/v1/bot/settings", token=sup)
    assert shown.status == 200, shown.text
    settings = shown.json()
    assert settings["enabled"] is False and settings["revision"] == 0
    assert "转人工" in settings["handoff_phrases"] and "12315" in settings["anger_words"]
    assert settings["low_confidence"] == "handoff" and settings["max_misses"] == 2

    put = gateway.request(
        "PUT",
        "/v1/bot/settings",
        token=sup,
        json_body={
            "enabled": True,
            "greeting": "您好，我是小K",
            "vip_tiers": ["high_value"],
            "anger_words": [*settings["anger_words"], "无语"],
        },
    )
    assert put.status == 200, put.text
    assert put.json()["enabled"] is True and put.json()["revision"] == 1
    assert "无语" in put.json()["anger_words"]
    (record,) = [r for r in list_audit("shop-a")[0] if r["action"] == "bot.settings_updated"]
    assert record["actor"] == "staff:laoli" and record["after"]["greeting"] == "您好，我是小K"

    customer = gateway.customer_token("shop-a", "u-1")
    sent = gateway.post("/v1/messages", token=customer, json_body={"type": "text", "text": "你好"})
    assert sent.status in (200, 201), sent.text
    agent = staff_token("shop-a", "xiaowang", "agent")
    watching = gateway.get("/v1/workbench/views/bot", token=agent)
    assert watching.status == 200, watching.text
    assert [c["status"] for c in watching.json()["conversations"]] == ["bot"]


def test_agents_may_not_change_the_bot_and_bad_thresholds_are_refused(gateway, staff_token, shop):
    agent = staff_token("shop-a", "xiaowang", "agent")
    assert gateway.get("/v1/bot/settings", token=agent).status == 403
    owner = staff_token("shop-a", "boss", "owner")
    bad = gateway.request(
        "PUT",
        "/v1/bot/settings",
        token=owner,
        json_body={"answer_threshold": 0.3, "suggest_threshold": 0.6},
    )
    assert (bad.status, bad.error["code"]) == (400, "invalid_thresholds")
    unknown = gateway.request(
        "PUT", "/v1/bot/settings", token=owner, json_body={"low_confidence": "shrug"}
    )
    assert unknown.status == 400
