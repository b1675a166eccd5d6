"""Specification: the widget demo's local signing server (infra/local/widget_demo.py) does what a
shop's back end does for shop `demo` — signs the exact body of POST /v1/auth/app with the demo
app-login key — and nothing more: loopback only, one shop, user ids checked."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from werkzeug.test import Client

from infra.local import widget_demo
from infra.local.demo_data import APP_LOGIN_KEY


class _Answer:
    status_code = 200
    content = (
        b'{"token":"t","token_type":"Bearer","expires_in":7200,"customer_id":"c","shop_id":"demo"}'
    )


@pytest.fixture
def forwarded(monkeypatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def post(url: str, **kwargs: Any) -> _Answer:
        calls.append({"url": url, **kwargs})
        return _Answer()

    monkeypatch.setattr(widget_demo.requests, "post", post)
    return calls


def _client() -> Client:
    return Client(widget_demo.WidgetDemo("http://127.0.0.1:3000", "ws://127.0.0.1:3001/local"))


def test_it_signs_the_exact_body_it_forwards_for_the_demo_shop(forwarded):
    answer = _client().post(
        "/demo/app-login", json={"user_id": "h5-guest-1", "display_name": "访客"}
    )

    assert answer.status_code == 200
    assert answer.get_json()["token"] == "t"
    (call,) = forwarded
    assert call["url"] == "http://127.0.0.1:3000/v1/auth/app"
    body = call["data"]
    expected = hmac.new(APP_LOGIN_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert call["headers"]["X-Kefu-Signature"] == expected
    sent = json.loads(body)
    assert sent["shop_id"] == "demo" and sent["user_id"] == "h5-guest-1"
    assert sent["channel"] == "h5" and sent["display_name"] == "访客"
    assert abs(sent["timestamp"] - time.time()) < 5


@pytest.mark.parametrize("user_id", ["", "has space", "x" * 129, None])
def test_a_user_id_kefu_would_refuse_is_refused_here_first(forwarded, user_id):
    answer = _client().post("/demo/app-login", json={"user_id": user_id})

    assert answer.status_code == 400
    assert forwarded == []


def test_the_page_gets_this_stacks_urls():
    answer = _client().get("/widget/config.json")

    assert answer.get_json() == {
        "apiBase": "http://127.0.0.1:3000",
        "wsUrl": "ws://127.0.0.1:3001/local",
        "shopId": "demo",
    }


def test_it_listens_on_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        widget_demo.WidgetDemo("http://127.0.0.1:3000", None).start("0.0.0.0", 0)
