"""What the integration tests share: a small HTTP client for kefu's API, the WeChat stand-in's
control API, and polling for things that happen asynchronously (EventBridge -> SQS -> outbound)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from infra.local import demo_data
from infra.local.wechat_standin import WeChatStandIn

T = TypeVar("T")

CUSTOM_SEND = "/cgi-bin/message/custom/send"
STABLE_TOKEN = "/cgi-bin/stable_token"
APPID = {shop["shop_id"]: shop["appid"] for shop in demo_data.SHOPS}


def unique(prefix: str) -> str:
    """A fresh name, so tests sharing one stack never see each other's customers."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(
    check: Callable[[], T | None], *, timeout: float = 10, interval: float = 0.2, what: str = ""
) -> T:
    """Poll `check` until it returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or check}")
        time.sleep(interval)


def publish_knowledge(api: Api, token: str, *, timeout: float = 60) -> dict:
    """POST /v1/knowledge/publish (202: the knowledge publisher builds it), then poll
    GET /v1/knowledge until the publish is no longer under way. Returns the head."""
    before = api.get("/v1/knowledge", token).json()["published_version"]
    requested = api.post("/v1/knowledge/publish", token)
    assert requested.status_code == 202, requested.text

    def built() -> dict | None:
        head = api.get("/v1/knowledge", token).json()
        return None if head["publishing"] else head

    head = wait_for(built, timeout=timeout, interval=0.5, what="the knowledge base published")
    assert head["publish_error"] is None, head["publish_error"]
    assert head["published_version"] > before, head
    return head


class Api:
    """kefu's HTTP API through the local gateway (API Gateway REST proxy events)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=15, **kwargs
        )

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, token, **kwargs)

    def patch(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, token, **kwargs)

    # -- the calls most tests make -------------------------------------------------------------

    def customer_login(self, shop_id: str, code: str) -> dict:
        resp = self.post("/v1/auth/wechat", json={"shop_id": shop_id, "code": code})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def staff_login(self, shop_id: str, username: str, password: str = demo_data.PASSWORD) -> str:
        resp = self.post(
            "/v1/staff/login",
            json={"shop_id": shop_id, "username": username, "password": password},
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    def customer_says(self, token: str, text: str) -> dict:
        resp = self.post(
            "/v1/messages",
            token,
            json={"type": "text", "text": text, "client_message_id": unique("c")},
        )
        assert resp.status_code == 201, resp.text
        return resp.json()

    def conversation_messages(self, token: str, conversation_id: str) -> list[dict]:
        resp = self.get(f"/v1/conversations/{conversation_id}/messages?limit=100", token)
        assert resp.status_code == 200, resp.text
        return resp.json()["messages"]

    def message(self, token: str, conversation_id: str, message_id: str) -> dict:
        found = [
            m
            for m in self.conversation_messages(token, conversation_id)
            if m["message_id"] == message_id
        ]
        assert len(found) == 1, found
        return found[0]

    def wait_for_delivery(
        self,
        token: str,
        conversation_id: str,
        message_id: str,
        status: str,
        *,
        timeout: float = 10,
    ) -> dict:
        """The message once its delivery_status is `status` (it passes pending/sending first)."""

        def settled() -> dict | None:
            message = self.message(token, conversation_id, message_id)
            return message if message["delivery_status"] == status else None

        try:
            return wait_for(settled, timeout=timeout)
        except AssertionError:
            now = self.message(token, conversation_id, message_id)
            raise AssertionError(f"not {status} within {timeout:.0f} s: {now}") from None

    def claim_and_reply(self, token: str, conversation_id: str, text: str) -> dict:
        claimed = self.post(f"/v1/conversations/{conversation_id}/claim", token)
        assert claimed.status_code == 200, claimed.text
        resp = self.post(
            f"/v1/conversations/{conversation_id}/replies",
            token,
            json={"type": "text", "text": text},
        )
        assert resp.status_code == 201, resp.text
        return resp.json()


class StandIn:
    """The WeChat stand-in, driven over its HTTP control API as a developer would with curl."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def requests(self, path: str | None = None) -> list[dict]:
        resp = requests.get(
            f"{self.base_url}/__standin__/requests",
            params={"path": path} if path else {},
            timeout=5,
        )
        resp.raise_for_status()
        return resp.json()

    def sent_to(self, openid: str) -> list[dict]:
        """Customer-service messages sent to `openid` (failed attempts included), oldest first."""
        return [r for r in self.requests(CUSTOM_SEND) if (r["json"] or {}).get("touser") == openid]

    def fail(self, path: str = CUSTOM_SEND, **spec: Any) -> None:
        resp = requests.post(
            f"{self.base_url}/__standin__/fail", json={"path": path, **spec}, timeout=5
        )
        resp.raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.base_url}/__standin__/reset", timeout=5).raise_for_status()

    @staticmethod
    def openid(shop_id: str, code: str) -> str:
        return WeChatStandIn.openid_for(APPID[shop_id], code)
