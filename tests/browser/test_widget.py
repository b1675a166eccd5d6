"""Scenarios: a customer chats from the H5 widget on the demo page (signed in by the local
signing server as an app user of shop `demo`); agent1's reply, sent through the staff HTTP API,
appears in the widget live — over the WebSocket, with no reload — in zh-CN and English; with the
bot on, the bot answers from the demo knowledge base in the widget, and "not this one" brings its
other candidates or a hand-over. Screenshots go to docs/screenshots/ (widget-zh-CN.png,
widget-en.png, widget-bot-zh-CN.png)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest

from infra.local.demo_data import DEMO_KB
from tests.browser.widget_fixtures import SCREENSHOTS, browser, widget_stack  # noqa: F401
from tests.integration.kefu_http import Api, unique

PHONE = {"width": 390, "height": 720}


def _png(width: int, height: int) -> bytes:
    """A picture the customer sends: a warm gradient (PNG, standard library only)."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (240, 120 + x * 100 // width, 80 + y))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png(160, 120)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-CN", {"live": "在线", "sent": "已发送", "text": "你好，我的订单什么时候发货？"}),
        ("en", {"live": "Online", "sent": "Sent", "text": "Hi, when will my order ship?"}),
    ],
)
def test_a_reply_reaches_the_widget_live(widget_stack, browser, lang, words):  # noqa: F811
    api = Api(widget_stack.api_url)
    agent1 = api.staff_login("demo", "agent1")
    context = browser.new_context(viewport=PHONE, locale=lang, device_scale_factor=2)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    user = unique(f"h5-{lang.lower()}")
    try:
        page.goto(
            f"{widget_stack.urls['widget']}?user={user}&lang={'en' if lang == 'en' else 'zh'}"
        )
        state = page.locator(".kefu-w-state")
        state_is_live(state, words["live"])

        page.locator(".kefu-w-input").fill(words["text"])
        page.keyboard.press("Enter")
        own = page.locator('.kefu-w-msg[data-dir="in"]').last
        assert_text(own.locator(".kefu-w-status"), words["sent"])
        conversation_id = page.evaluate("window.kefuWidget.live.conversationId")
        assert conversation_id, "the widget knows its conversation after the first send"

        reply = (
            "您好，今天下单明天发货～" if lang == "zh-CN" else "Hello! Orders ship the next day."
        )
        api.claim_and_reply(agent1, conversation_id, reply)

        # Live: the socket stayed up (no polling, no reload) and the reply is on the page.
        answer = page.locator('.kefu-w-msg[data-dir="out"]').filter(has_text=reply)
        answer.wait_for(timeout=10_000)
        assert answer.locator(".kefu-w-who").inner_text() == "agent1"
        assert state.get_attribute("data-state") == "live"
        assert "agent1" in page.locator(".kefu-w-title").inner_text()
        assert errors == []

        # A picture: presigned upload to the media bucket, then the message with its media_key.
        page.locator(".kefu-w-bar input[type=file]").set_input_files(
            {"name": "shoe.png", "mimeType": "image/png", "buffer": PNG}
        )
        picture = page.locator('.kefu-w-msg[data-dir="in"]').last
        assert_text(picture.locator(".kefu-w-status"), words["sent"])
        stored = api.conversation_messages(agent1, conversation_id)
        assert [m["type"] for m in stored if m["direction"] == "in"] == ["text", "image"]
        assert errors == []

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"widget-{lang}.png"))
    finally:
        context.close()


def state_is_live(state: Any, text: str) -> None:
    state.and_(state.page.locator('[data-state="live"]')).wait_for(timeout=15_000)
    assert state.inner_text() == text


def assert_text(locator: Any, text: str) -> None:
    locator.filter(has_text=text).wait_for(timeout=10_000)
    assert locator.inner_text() == text


def test_the_bot_answers_from_the_knowledge_base_in_the_widget(widget_stack, browser):  # noqa: F811
    api = Api(widget_stack.api_url)
    owner = api.staff_login("demo", "owner")
    _question, _similar, expected = DEMO_KB[0]  # 什么时候发货, published with the demo data
    turned_on = api.request("PUT", "/v1/bot/settings", owner, json={"enabled": True})
    assert turned_on.status_code == 200, turned_on.text
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(f"{widget_stack.urls['widget']}?user={unique('h5-bot')}&lang=zh")
        state_is_live(page.locator(".kefu-w-state"), "在线")

        page.locator(".kefu-w-input").fill("下单后多久发货？")
        page.keyboard.press("Enter")

        answer = page.locator('.kefu-w-msg[data-dir="out"]').filter(has_text=expected)
        answer.wait_for(timeout=30_000)
        assert answer.locator(".kefu-w-who").inner_text() == "智能助手"

        # "Not this one": the bot offers its other candidates as buttons, or (none left) hands
        # over to a person (docs/bot.md, row d); either shows up in the widget.
        page.locator(".kefu-w-input").fill("不是这个")
        page.keyboard.press("Enter")
        page.locator(
            '.kefu-w-choice, .kefu-w-msg[data-dir="out"]:has-text("人工客服")'
        ).first.wait_for(timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "widget-bot-zh-CN.png"))
    finally:
        context.close()
        api.request("PUT", "/v1/bot/settings", owner, json={"enabled": False})
