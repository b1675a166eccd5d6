"""Specification: the web console in a real browser (headless Chromium from Debian) against the
local stack — an agent takes the queued conversation and answers with a quick reply the customer
receives, a ticket is opened from the context panel, a supervisor transfers a conversation; the
main screens have no critical axe-core violation and are saved as screenshots in both languages
(docs/screenshots/, shown in the README)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_critical, screenshot, sign_in
from tests.integration.kefu_http import Api, unique, wait_for

pytestmark = pytest.mark.integration

TRACKING = "SF1234567890"  # 小明's order DEMO-1001 in the demo data


@pytest.fixture(scope="module")
def owner(api: Api) -> str:
    return api.staff_login("demo", "owner")


@pytest.fixture(scope="module")
def xiaoming(api: Api, owner: str) -> dict[str, str]:
    """小明 writes again: his conversation waits in the queue (the demo data queued it)."""
    customer = api.customer_login("demo", "xiaoming")
    sent = api.customer_says(customer["token"], "包裹到哪了？")
    conversation_id = sent["conversation_id"]
    named = api.patch(
        f"/v1/customers/{customer['customer_id']}", owner, json={"display_name": "小明"}
    )
    assert named.status_code == 200, named.text
    state = api.get(f"/v1/conversations/{conversation_id}", owner).json()
    assert state["status"] == "queued", state
    return {"token": customer["token"], "conversation_id": conversation_id}


@pytest.fixture(scope="module")
def quick_reply(api: Api, owner: str) -> str:
    resp = api.post(
        "/v1/quick-replies",
        owner,
        json={
            "scope": "shop",
            "title": "物流进度",
            "text": "{customer_name|亲}您好，您的包裹已由顺丰发出，运单号 {tracking_number}。",
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["quick_reply_id"]


def _no_critical(page: Any, screen: str) -> None:
    critical = axe_critical(page)
    assert critical == [], f"{screen}: {critical}"


def test_an_agent_takes_the_queued_conversation_replies_with_a_quick_reply_and_opens_a_ticket(
    console_url: str, api: Api, console_page: Any, xiaoming: dict[str, str], quick_reply: str
) -> None:
    page = console_page("zh-CN")
    page.goto(f"{console_url}/")
    page.wait_for_selector("#username")
    _no_critical(page, "sign-in")
    sign_in(page, console_url, "agent1")

    page.click("[data-view=unassigned]")
    row = page.locator(f"[data-conversation='{xiaoming['conversation_id']}']", has_text="小明")
    row.wait_for()
    screenshot(page, "inbox-zh-CN")
    _no_critical(page, "inbox")

    row.click()
    page.click("[data-test=claim]")
    composer = page.locator("textarea[data-test=composer]")
    expect(composer).to_be_enabled()
    composer.fill("/物流")
    page.locator(f"[data-quick-reply='{quick_reply}']").wait_for()
    composer.press("Enter")

    # The reply, its variables filled by the server, shows in the conversation...
    page.locator(".messages .bubble", has_text=TRACKING).wait_for()

    # ...and reaches the customer.
    def delivered() -> list[dict]:
        page_ = api.get("/v1/messages", xiaoming["token"]).json()
        return [m for m in page_["messages"] if TRACKING in m["content"].get("text", "")]

    [reply] = wait_for(delivered, timeout=15, what="the quick reply at the customer")
    assert reply["content"]["text"] == f"小明您好，您的包裹已由顺丰发出，运单号 {TRACKING}。"

    # Delivered: the pane follows the delivery over the WebSocket (message.delivered).
    page.locator(".delivery", has_text="已送达").wait_for()
    page.locator("[data-test=service-window]").wait_for()
    page.locator("[data-test=orders]", has_text="DEMO-1001").wait_for()
    screenshot(page, "conversation-zh-CN")
    _no_critical(page, "conversation and context")

    subject = unique("物流延误")
    page.click("[data-test=create-ticket]")
    page.fill("#ticket-subject", subject)
    page.click("[data-test=ticket-submit]")
    page.locator("[data-test=tickets] li", has_text=subject).wait_for()
    tickets = api.get(
        "/v1/tickets", api.staff_login("demo", "owner"), params={"status": "new"}
    ).json()
    found = [t for t in tickets["tickets"] if t["subject"] == subject]
    assert len(found) == 1 and found[0]["conversation_id"] == xiaoming["conversation_id"], found


def test_the_english_console_is_complete_on_the_same_screens(
    console_url: str, console_page: Any, xiaoming: dict[str, str]
) -> None:
    page = console_page("en")
    sign_in(page, console_url, "agent1")
    page.locator("[data-view=mine]", has_text="Mine").wait_for()
    page.goto(f"{console_url}/inbox/{xiaoming['conversation_id']}")
    page.locator("[data-test=orders]", has_text="Orders").wait_for()
    # No Chinese UI string is left in the chrome (customers' own words may be Chinese).
    chrome = page.inner_text(".top") + page.inner_text(".nav") + page.inner_text(".views")
    assert not re.search(r"[\u4e00-\u9fff]", chrome), chrome
    screenshot(page, "conversation-en")
    _no_critical(page, "conversation (en)")
    page.goto(f"{console_url}/inbox")
    page.locator("[data-view=mine]").wait_for()
    screenshot(page, "inbox-en")


def test_a_supervisor_reveals_the_customer_and_transfers_the_conversation_with_a_note(
    console_url: str, api: Api, console_page: Any, owner: str
) -> None:
    listed = api.get("/v1/conversations", owner, params={"assignee": "agent1"}).json()
    xiaohong = [c for c in listed["conversations"] if c["status"] == "assigned"]
    assert xiaohong, listed
    conversation_id = xiaohong[-1]["conversation_id"]
    customer_id = xiaohong[-1]["customer_id"]
    changed = api.patch(
        f"/v1/customers/{customer_id}",
        owner,
        json={"real_name": "李小红", "phones": ["13812345678"]},
    )
    assert changed.status_code == 200, changed.text

    page = console_page("zh-CN", width=1024, height=768)  # a tablet in landscape
    sign_in(page, console_url, "owner")
    page.goto(f"{console_url}/inbox/{conversation_id}")
    # A supervisor may reveal the customer's personal fields: one audited read. On a tablet the
    # context panel is a drawer.
    page.click("[data-test=context-toggle]")
    page.click("[data-test=reveal]")
    page.locator("[data-test=reveal]").wait_for(state="detached")  # the revealed profile is in
    page.locator("[data-test=contact]", has_text="李小红").wait_for()
    viewed = api.get("/v1/audit", owner, params={"action": "customer.personal_viewed"}).json()
    assert [r["target_id"] for r in viewed["audit"]] == [customer_id], viewed
    page.click("[data-test=context-close]")

    page.click("[data-test=transfer]")
    page.click(".el-radio-button:has-text('队列')")
    page.click("[data-test=transfer-target]")
    page.click(".el-select-dropdown__item:visible >> text=默认")  # the shop's default queue
    page.fill("textarea[data-test=transfer-note]", "客户问发票，请财务同事跟进")
    page.click("[data-test=transfer-submit]")
    page.locator(".el-message--success").wait_for()

    after = api.get(f"/v1/conversations/{conversation_id}", owner).json()
    assert after["assignee"] != "agent1", after
    audit = api.get("/v1/audit", owner, params={"action": "conversation.transferred"}).json()
    assert any(r["target_id"] == conversation_id for r in audit["audit"]), audit
