"""One local stack (template.yaml on loopback: moto server, gateway, pollers, schedules, the
WeChat stand-in and the demo data, wired as `make dev` wires them) for every integration test.

Package scope: the stack starts before the first test here and stops after the last one, so it
runs once per session and is gone, with the process environment restored, before pytest moves
on to other packages (tests/unit runs after tests/integration and uses in-process moto).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.local.__main__ import demo_data_hook, wechat_standin_hook
from infra.local.stack import LocalStack
from tests.integration.kefu_http import Api, StandIn, wait_for
from tests.support.aws import drop_model_connections, reset_kefu_caches

ROOT = Path(__file__).resolve().parents[2]


def _fresh_kefu_caches(stack: LocalStack) -> None:
    """kefu caches settings, boto3 clients, secrets, shops and WeChat tokens per process: drop
    what earlier tests (or another stack) cached, now that the stack's environment is set."""
    reset_kefu_caches()
    drop_model_connections()


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
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
        # The demo data includes a reply to 小红: let its delivery finish, so no test's
        # stand-in failure is spent on it.
        standin = StandIn(local.urls["wechat"])
        wait_for(
            lambda: [
                r for r in standin.sent_to(StandIn.openid("demo", "xiaohong")) if not r["errcode"]
            ],
            timeout=20,
            what="the demo reply delivered",
        )
        yield local
    finally:
        local.stop()
        reset_kefu_caches()
        drop_model_connections()


@pytest.fixture(scope="package")
def api(stack: LocalStack) -> Api:
    return Api(stack.api_url)


@pytest.fixture(scope="package")
def standin(stack: LocalStack) -> StandIn:
    return StandIn(stack.urls["wechat"])


@pytest.fixture(scope="package")
def agent1(api: Api) -> str:
    return api.staff_login("demo", "agent1")


@pytest.fixture(scope="package")
def owner(api: Api) -> str:
    return api.staff_login("demo", "owner")


@pytest.fixture(scope="package")
def agent2(api: Api) -> str:
    return api.staff_login("demo-2", "agent2")


@pytest.fixture
def resolve_later(api: Api) -> Iterator[Callable[[str, str], None]]:
    """`resolve_later(staff_token, conversation_id)`: resolve it when the test ends, so the
    conversations one test claims do not fill an agent's capacity for the tests after it."""
    claimed: list[tuple[str, str]] = []
    yield lambda token, conversation_id: claimed.append((token, conversation_id))
    for token, conversation_id in claimed:
        api.post(f"/v1/conversations/{conversation_id}/resolve", token)
