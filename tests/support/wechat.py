"""The WeChat stand-in wired into kefu for one test, with the factories' shops registered.

Unit tests reach it in-process: `InMemoryTransport` answers WeChatApi's requests with the
stand-in's handler (the same payloads, error codes and request log as over HTTP), so no socket
is opened. The stand-in's own HTTP serving is tested in tests/integration/local_runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.local.wechat_standin import WeChatStandIn
from tests.support.factories import WECHAT

IN_MEMORY_URL = "http://wechat-standin.invalid"


def shop_appid(shop_id: str) -> str:
    """The appid make_shop gives a shop by default."""
    return f"wx{shop_id.replace('-', '')}"


@dataclass
class _Response:
    status: int
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)


class InMemoryTransport:
    """What WeChatApi needs of urllib3.PoolManager (`request`), answered by the stand-in."""

    def __init__(self, standin: WeChatStandIn) -> None:
        self.standin = standin

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        **_options: Any,
    ) -> _Response:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        content_type = (headers or {}).get("Content-Type", "")
        status, payload, answered_type = self.standin.handle_request(
            method, parts.path, query, content_type, body or b""
        )
        return _Response(status, payload, {"Content-Type": answered_type})


@contextmanager
def wechat_standin(monkeypatch, *, shops: tuple[str, ...] = ()) -> Iterator[WeChatStandIn]:
    """A stand-in that every WeChatApi kefu makes reaches in-process (settings are cached, so
    they are reset), with the apps of `shops` registered with the app secret make_shop stores."""
    from kefu.channels.wechat import api

    from tests.support.aws import reset_kefu_caches

    standin = WeChatStandIn()
    for shop_id in shops:
        standin.add_app(shop_appid(shop_id), WECHAT["app_secret"])
    monkeypatch.setenv("WECHAT_API_BASE_URL", IN_MEMORY_URL)
    monkeypatch.setattr(api, "new_http", lambda timeout: InMemoryTransport(standin))
    reset_kefu_caches()
    yield standin
