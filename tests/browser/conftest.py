"""One local stack serving the built console (as `make dev` does) and one headless Chromium —
Debian's package at /usr/bin/chromium, never a downloaded browser build — for the browser tests.

Package scope, like tests/integration's stack (tests/conftest.py keeps these tests on one xdist
worker). `make test` builds the console first (`make console-check`); `.ci/run` installs
Chromium and the CJK fonts the screenshots need.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.__main__ import demo_data_hook, wechat_standin_hook
from infra.local.stack import LocalStack
from tests.integration.kefu_http import Api
from tests.support.aws import drop_model_connections, reset_kefu_caches

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "console" / "dist"
CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _missing() -> str | None:
    if not (DIST / "index.html").is_file():
        return "the console is not built: make console"
    if not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium"
    if not AXE.is_file():
        return "console/node_modules is not installed: make console"
    return None


# Module scope: one local stack alive at a time in a worker (kefu's caches and AWS settings are
# per process, and other browser modules start stacks of their own).
@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    missing = _missing()
    if missing:
        pytest.skip(missing)

    def fresh_caches(_stack: LocalStack) -> None:
        reset_kefu_caches()
        drop_model_connections()

    hooks = [wechat_standin_hook("127.0.0.1", 0), fresh_caches, demo_data_hook()]
    local = LocalStack(
        ROOT / "template.yaml",
        port=0,
        moto_port=0,
        parameter_overrides={"Stage": "local"},
        before_start=[hook for hook in hooks if hook is not None],
        schedules=False,
        console=DIST,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()
        reset_kefu_caches()
        drop_model_connections()


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Api:
    return Api(stack.api_url)


@pytest.fixture(scope="module")
def console_url(stack: LocalStack) -> str:
    return stack.urls["console"].rstrip("/")


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """One Playwright and one headless Debian Chromium for every browser test of a worker:
    Playwright's sync API runs one event loop per process, so two at once cannot start."""
    if not shutil.which(CHROMIUM):
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian's package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser(stack: LocalStack, chromium_browser: Any) -> Any:
    return chromium_browser


@pytest.fixture
def console_page(stack: LocalStack, browser: Any) -> Iterator[Any]:
    """`console_page(locale)` -> a fresh page (own cookies) at 1280×800 in that locale; every
    console error or uncaught exception on it fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(locale: str = "zh-CN", width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.add_init_script(f"localStorage.setItem('kefu.locale', '{locale}')")
        # axe-core as an init script: the console's CSP (script-src 'self') rightly refuses
        # an injected <script>; init scripts come in through the DevTools protocol.
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


def sign_in(page: Any, base_url: str, username: str) -> None:
    from infra.local import demo_data

    page.goto(f"{base_url}/")
    page.fill("#shop", "demo")
    page.fill("#username", username)
    page.fill("#password", demo_data.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-test=sign-out]")  # the shell: signed in (the URL says less)


def axe_critical(page: Any) -> list[dict]:
    """axe-core's critical violations on the page as it is now."""
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] == "critical"
    ]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
