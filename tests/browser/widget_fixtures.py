"""Fixtures for the widget's browser test: the local stack as `make dev` runs it (demo data, the
WeChat stand-in, the widget demo page with its local signing server) and headless Chromium from
Debian's package (`apt-get install chromium`; Playwright never downloads a browser here).

Kept out of a conftest.py so it merges with the console's browser fixtures: import what you
need (`from tests.browser.widget_fixtures import browser, widget_stack`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.__main__ import demo_data_hook, start_widget_demo, wechat_standin_hook
from infra.local.stack import LocalStack
from tests.support.aws import drop_model_connections, reset_kefu_caches

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
WIDGET_JS = ROOT / "clients" / "js" / "dist" / "widget" / "kefu-widget.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _fresh_kefu_caches(stack: LocalStack) -> None:
    reset_kefu_caches()
    drop_model_connections()


@pytest.fixture(scope="module")
def widget_stack() -> Iterator[LocalStack]:
    if not WIDGET_JS.exists():
        pytest.fail(f"{WIDGET_JS.relative_to(ROOT)} is not built: run `make clients-js`")
    hooks = [wechat_standin_hook("127.0.0.1", 0), _fresh_kefu_caches, demo_data_hook()]
    local = LocalStack(
        ROOT / "template.yaml",
        port=0,
        moto_port=0,
        parameter_overrides={"Stage": "local"},
        before_start=[hook for hook in hooks if hook is not None],
    )
    try:
        local.start()
        if start_widget_demo(local, "127.0.0.1", 0) is None:
            pytest.fail("the widget demo server did not start")
        yield local
    finally:
        local.stop()
        reset_kefu_caches()
        drop_model_connections()


@pytest.fixture(scope="module")
def browser(chromium_browser: Any) -> Any:
    """The worker's one Chromium (tests/browser/conftest.py)."""
    return chromium_browser
