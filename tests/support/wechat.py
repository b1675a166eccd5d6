"""The WeChat stand-in wired into kefu for one test, with the factories' shops registered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infra.local.wechat_standin import WeChatStandIn
from tests.support.factories import WECHAT


def shop_appid(shop_id: str) -> str:
    """The appid make_shop gives a shop by default."""
    return f"wx{shop_id.replace('-', '')}"


@contextmanager
def wechat_standin(monkeypatch, *, shops: tuple[str, ...] = ()) -> Iterator[WeChatStandIn]:
    """Start a stand-in, point kefu at it (settings are cached, so they are reset) and register
    the apps of `shops` with the app secret make_shop stores."""
    from tests.support.aws import reset_kefu_caches

    standin = WeChatStandIn()
    url = standin.start()
    try:
        for shop_id in shops:
            standin.add_app(shop_appid(shop_id), WECHAT["app_secret"])
        monkeypatch.setenv("WECHAT_API_BASE_URL", url)
        reset_kefu_caches()
        yield standin
    finally:
        standin.stop()
