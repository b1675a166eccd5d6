"""Specification: tickets and settings in the web console, in a real browser (headless Chromium
from Debian's package) against the local stack serving the built console — a supervisor opens a
ticket, comments on it and moves it on, and finds the change in the audit log; the ticket detail
and the SLA settings are saved as screenshots in zh-CN and English (docs/screenshots/).

Fixtures live here (not in a conftest.py) so this file merges beside the other browser tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo_data
from infra.local.stack import LocalStack
from tests.browser.widget_fixtures import CHROMIUM, SCREENSHOTS, browser  # noqa: F401
from tests.integration.kefu_http import Api

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "console" / "dist"
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
SUPERVISOR = "zhuguan"


@pytest.fixture(scope="module")
def ticket(api: Api) -> dict[str, Any]:
    """The owner adds a supervisor and opens a high-priority ticket for the team."""
    owner = api.staff_login("demo", "owner")
    added = api.post(
        "/v1/staff",
        owner,
        json={
            "username": SUPERVISOR,
            "role": "supervisor",
            "password": demo_data.PASSWORD,
            "display_name": "主管",
        },
    )
    assert added.status_code == 201, added.text
    created = api.post(
        "/v1/tickets",
        owner,
        json={
            "subject": "发票抬头错误",
            "type": "other",
            "priority": "high",
            "department": "after-sales",
            "description": "客户要求把发票抬头改成公司名称",
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture
def page_in(stack: LocalStack, browser: Any) -> Iterator[Any]:  # noqa: F811
    """`page_in(locale)` -> a fresh page at 1280×800; any console error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(locale: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
        context.add_init_script(f"localStorage.setItem('kefu.locale', '{locale}')")
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"console errors: {errors}"


def _sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#shop", "demo")
    page.fill("#username", username)
    page.fill("#password", demo_data.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-test=sign-out]")


def _choose(page: Any, select: str, option: str) -> None:
    page.click(select)
    page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()


def _no_critical(page: Any, screen: str) -> None:
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    critical = [v["id"] for v in result["violations"] if v["impact"] == "critical"]
    assert critical == [], f"{screen}: {critical}"


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_supervisor_comments_moves_a_ticket_on_and_finds_it_in_the_audit_log(
    stack: LocalStack, page_in: Any, ticket: dict[str, Any]
) -> None:
    base = stack.urls["console"].rstrip("/")
    page = page_in("zh-CN")
    _sign_in(page, base, SUPERVISOR)

    page.click("a[title=工单]")
    row = page.locator("[data-test=ticket-table] tr", has_text=ticket["short_id"])
    expect(row).to_contain_text("发票抬头错误")
    expect(row).to_contain_text("首次响应")  # the SLA clock of a new high ticket
    row.locator("a").click()

    history = page.locator("[data-test=ticket-history]")
    expect(history).to_contain_text("owner 创建了工单")
    expect(page.locator("[data-test=ticket-sla]")).to_contain_text("截止")

    page.fill("textarea[data-test=ticket-comment]", "已联系财务重开发票")
    page.click("[data-test=ticket-comment-send]")
    expect(history).to_contain_text("已联系财务重开发票")
    expect(history).to_contain_text("内部备注")

    _choose(page, "[data-test=ticket-status]", "处理中")
    expect(history).to_contain_text("zhuguan 将「状态」从 新建 改为 处理中")
    # a status change is the first response: that clock is met
    expect(page.locator("[data-test=ticket-sla]")).to_contain_text("首次响应 · 已达成")
    _no_critical(page, "ticket detail")
    _shot(page, "ticket-detail-zh-CN")

    page.click("a[title=设置]")
    page.click("[data-test=settings-audit]")
    _choose(page, "[data-test=audit-target-type]", "ticket")
    page.fill("input[data-test=audit-target-id]", ticket["ticket_id"])
    page.click("[data-test=audit-search]")
    table = page.locator("[data-test=audit-table]")
    expect(table).to_contain_text("ticket.updated")
    expect(table).to_contain_text(f"staff:{SUPERVISOR}")
    expect(table).to_contain_text("ticket.created")
    _no_critical(page, "audit log")
    _shot(page, "settings-audit-zh-CN")

    page.click("[data-test=settings-sla]")
    expect(page.locator("#cal-mon")).to_have_value("09:00-18:00")
    _shot(page, "settings-sla-zh-CN")


def test_the_ticket_and_the_sla_settings_in_english(
    stack: LocalStack, page_in: Any, ticket: dict[str, Any]
) -> None:
    base = stack.urls["console"].rstrip("/")
    page = page_in("en")
    _sign_in(page, base, SUPERVISOR)
    page.goto(f"{base}/tickets/{ticket['ticket_id']}")
    expect(page.locator("[data-test=ticket-history]")).to_contain_text("owner created the ticket")
    expect(page.locator("[data-test=ticket-sla]")).to_contain_text("Resolution")
    _shot(page, "ticket-detail-en")

    page.goto(f"{base}/settings/sla")
    expect(page.locator("#cal-mon")).to_have_value("09:00-18:00")
    _no_critical(page, "SLA settings")
    _shot(page, "settings-sla-en")

    page.goto(f"{base}/settings/routing")
    expect(page.locator("[data-test=queue-table]")).to_contain_text("Every agent")
    _no_critical(page, "routing settings")
    _shot(page, "settings-routing-en")
