"""Scenario: a supervisor signs in to the console, adds a knowledge-base entry with similar
questions, publishes it (the publisher is asynchronous: the console polls until it is built) and
the "try the bot" box answers a customer's wording of it from the published knowledge base.
Screenshots of the knowledge base and the bot settings in zh-CN and English go to
docs/screenshots/ (console-knowledge-*.png, console-bot-settings-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.local import demo_data
from infra.local.__main__ import wechat_standin_hook
from infra.local.stack import LocalStack
from tests.browser.widget_fixtures import ROOT, SCREENSHOTS, browser  # noqa: F401
from tests.support.aws import drop_model_connections, reset_kefu_caches

CONSOLE = ROOT / "console" / "dist"
SUPERVISOR = ("demo", "supervisor1", "supervisor")
DESKTOP = {"width": 1440, "height": 900}


def _demo_with_a_supervisor(stack: LocalStack) -> None:
    """The demo data, with a supervisor in shop demo (the demo has an owner and agents)."""
    reset_kefu_caches()
    drop_model_connections()
    demo_data.STAFF.append(SUPERVISOR)
    try:
        demo_data.load(stack)
    finally:
        demo_data.STAFF.remove(SUPERVISOR)


@pytest.fixture(scope="module")
def console_stack() -> Iterator[LocalStack]:
    if not (CONSOLE / "index.html").exists():
        pytest.fail("console/dist is not built: run `make console` (npm run build in console/)")
    hooks = [wechat_standin_hook("127.0.0.1", 0), _demo_with_a_supervisor]
    local = LocalStack(
        ROOT / "template.yaml",
        port=0,
        moto_port=0,
        parameter_overrides={"Stage": "local"},
        before_start=[hook for hook in hooks if hook is not None],
        console=CONSOLE,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()
        reset_kefu_caches()
        drop_model_connections()


QUESTION = "积分可以兑换什么礼品？"
SIMILAR = ["积分怎么兑换", "积分能换礼品吗"]
ANSWER = "亲，100 积分可兑换 5 元无门槛券，在「我的-积分商城」兑换即可～"


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}signin")
    page.fill("#shop", SUPERVISOR[0])
    page.fill("#username", SUPERVISOR[1])
    page.fill("#password", demo_data.PASSWORD)
    page.click("button.submit")
    page.wait_for_url("**/inbox**")


@pytest.mark.skip(
    reason=(
        "since the demo CRM landed, the knowledge base starts with an unpublished change "
        "this scenario does not expect (passes alone on the pre-CRM demo); to fix with "
        "issue 11"
    )
)
def test_a_supervisor_adds_an_entry_publishes_and_the_bot_answers_it(console_stack, browser):  # noqa: F811
    base = console_stack.urls["console"]
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, base)

    page.goto(f"{base}knowledge")
    page.wait_for_selector("[data-test=publish-bar]")
    # The demo knowledge base is published: nothing to publish until an entry changes.
    assert page.locator("[data-test=unpublished]").count() == 0

    page.click("[data-test=kb-new]")
    page.fill("[data-test=entry-question]", QUESTION)
    page.fill("[data-test=entry-similar]", "\n".join(SIMILAR))
    page.fill("[data-test=reply-text]", ANSWER)
    page.click("[data-test=entry-save]")
    row = page.locator("[data-test=kb-table] .el-table__row", has_text=QUESTION)
    row.wait_for()
    assert all(row.get_by_text(s).count() == 1 for s in SIMILAR)
    page.wait_for_selector("[data-test=unpublished]")

    # Not published yet: the bot does not know it.
    page.fill("[data-test=try-input]", "积分能换礼品吗？")
    page.click("[data-test=try-ask]")
    page.wait_for_selector("[data-test=try-answer]")
    assert ANSWER not in page.inner_text("[data-test=try-answer]")

    page.click("[data-test=publish]")
    page.get_by_text("发布完成").wait_for(timeout=60_000)
    assert page.locator("[data-test=unpublished]").count() == 0

    page.click("[data-test=try-ask]")
    page.locator("[data-test=try-reply]", has_text=ANSWER).wait_for(timeout=15_000)
    assert "知识库回答" in page.inner_text("[data-test=try-answer]")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for lang in ("zh-CN", "en"):
        page.evaluate("lang => localStorage.setItem('kefu.locale', lang)", lang)
        page.goto(f"{base}knowledge")
        row.wait_for()
        page.wait_for_timeout(300)  # the message toasts fade
        page.screenshot(path=str(SCREENSHOTS / f"console-knowledge-{lang}.png"))
        page.goto(f"{base}knowledge/settings")
        page.wait_for_selector("[data-test=bot-settings]")
        page.screenshot(path=str(SCREENSHOTS / f"console-bot-settings-{lang}.png"), full_page=True)
    assert page.get_by_text("Bot on").count() == 1
    assert errors == []
    context.close()
