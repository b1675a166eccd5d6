"""Real time on the local stack: an agent's WebSocket hears a customer's message the moment it
is sent through the REST API, and a customer connected in-app hears the agent's reply."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from infra.local.stack import LocalStack
from tests.integration.kefu_http import Api, unique

pytestmark = pytest.mark.integration


def frame_where(ws: ClientConnection, match, timeout: float = 20) -> dict[str, Any]:
    """The first frame for which `match` is true (other tests' frames may come first)."""
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if match(frame):
            return frame
        seen.append(frame.get("type"))
    raise AssertionError(f"no matching frame within {timeout} s; saw {seen}")


def test_agent_hears_the_customer_and_the_customer_hears_the_reply(
    stack: LocalStack, api: Api, agent1: str
):
    url = stack.urls["websocket"]
    customer = api.customer_login("demo", unique("rt"))
    with (
        connect(f"{url}?token={agent1}") as agent_ws,
        connect(f"{url}?token={customer['token']}&shop_id=demo") as customer_ws,
    ):
        agent_ws.send(json.dumps({"action": "ping", "echo": "hi"}))
        assert frame_where(agent_ws, lambda f: f.get("type") == "pong")["echo"] == "hi"

        sent = api.customer_says(customer["token"], "实时消息测试：在吗？")
        conversation_id = sent["conversation_id"]
        heard = frame_where(
            agent_ws,
            lambda f: (
                f.get("type") == "message.received"
                and f["data"]["conversation_id"] == conversation_id
            ),
        )
        assert heard["data"]["message_id"] == sent["message"]["message_id"]

        api.post(f"/v1/conversations/{conversation_id}/claim", agent1)  # routing may have
        reply = api.post(
            f"/v1/conversations/{conversation_id}/replies",
            agent1,
            json={"type": "text", "text": "在的，请问有什么可以帮您？"},
        )
        assert reply.status_code == 201, reply.text
        answer = frame_where(
            customer_ws,
            lambda f: (
                f.get("type") == "reply.created" and f["data"]["conversation_id"] == conversation_id
            ),
        )
        assert answer["data"]["content"] == {"text": "在的，请问有什么可以帮您？"}
        assert "reply_to" not in answer["data"]


def test_a_connection_without_a_valid_token_is_refused(stack: LocalStack):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.urls['websocket']}?token=nope", open_timeout=10)
    assert refused.value.response.status_code == 401
