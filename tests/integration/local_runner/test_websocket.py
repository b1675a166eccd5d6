"""The local runner's WebSocket APIs: routes from the template, API Gateway WebSocket proxy
events, refused connections, two-way routes, the Management API and the callback URL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from infra.local.stack import LocalStack

TEMPLATE = Path(__file__).parent / "ws_fixture" / "template.yaml"


@pytest.fixture(scope="module")
def ws_stack() -> Iterator[LocalStack]:
    with LocalStack(TEMPLATE, port=0, moto_port=0, pollers=False, schedules=False) as running:
        yield running


def events(stack: LocalStack) -> list[dict]:
    return stack.function("WsFunction").load().__globals__["EVENTS"]


def wait_for(check, timeout: float = 5):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)
    return value


def test_urls_and_callback_env(ws_stack):
    url = ws_stack.urls["websocket"]
    assert url.startswith("ws://127.0.0.1:") and url.endswith("/local")
    function = ws_stack.function("WsFunction")
    assert function.env["CALLBACK_URL"] == ws_stack.urls["websocket-callback"]
    assert function.env["CALLBACK_URL"].startswith("http://127.0.0.1:")
    assert function.env["CLIENT_URL"] == url
    assert "websocket" in ws_stack.describe()


def test_connect_event_message_routes_and_disconnect(ws_stack):
    url = ws_stack.urls["websocket"]
    with connect(f"{url}?token=good&x=1", user_agent_header="ws-test") as ws:
        connect_event = events(ws_stack)[-1]
        ctx = connect_event["requestContext"]
        assert ctx["routeKey"] == "$connect" and ctx["eventType"] == "CONNECT"
        assert ctx["stage"] == "local" and ctx["apiId"] == ws_stack.resource("WsApi").physical_id
        assert ctx["domainName"].startswith("127.0.0.1:") and ctx["requestId"]
        assert ctx["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "ws-test"}
        assert connect_event["queryStringParameters"] == {"token": "good", "x": "1"}
        connection_id = ctx["connectionId"]

        ws.send(json.dumps({"action": "echo", "n": 1}))
        assert json.loads(ws.recv(timeout=5)) == {"echo": {"action": "echo", "n": 1}}
        message = events(ws_stack)[-1]
        assert message["requestContext"]["eventType"] == "MESSAGE"
        assert message["requestContext"]["routeKey"] == "echo"
        assert message["requestContext"]["connectionId"] == connection_id
        assert message["requestContext"]["messageId"]
        assert message["body"] == json.dumps({"action": "echo", "n": 1})
        assert "queryStringParameters" not in message

        # No matching route -> $default; not JSON -> $default.
        ws.send(json.dumps({"action": "nope"}))
        assert ws.recv(timeout=5) == 'default:{"action": "nope"}'
        ws.send("plain text")
        assert ws.recv(timeout=5) == "default:plain text"

        # A failing function: API Gateway's error frame.
        ws.send(json.dumps({"action": "boom"}))
        error = json.loads(ws.recv(timeout=5))
        assert error["message"] == "Internal server error"
        assert error["connectionId"] == connection_id
    disconnect = wait_for(
        lambda: [e for e in events(ws_stack) if e["requestContext"]["routeKey"] == "$disconnect"]
    )[-1]
    assert disconnect["requestContext"]["eventType"] == "DISCONNECT"
    assert disconnect["requestContext"]["connectionId"] == connection_id
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000


def test_connect_refused_when_the_function_says_no(ws_stack):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{ws_stack.urls['websocket']}?token=bad", open_timeout=5)
    assert refused.value.response.status_code == 401


def test_management_api_reaches_the_socket_and_reports_gone(ws_stack):
    url = ws_stack.urls["websocket"]
    with connect(f"{url}?token=good") as ws:
        ws.send(json.dumps({"action": "push"}))
        assert json.loads(ws.recv(timeout=5)) == {"pushed": True}
        assert json.loads(ws.recv(timeout=5)) == {"pushed": True, "source_ip": "127.0.0.1"}
        # One-way route: the function's body is not sent back.
        ws.send(json.dumps({"action": "push", "to": "gone-connection"}))
        assert json.loads(ws.recv(timeout=5)) == {"gone": True}


def test_management_api_delete_closes_the_socket(ws_stack):
    import requests

    with connect(f"{ws_stack.urls['websocket']}?token=good") as ws:
        connection_id = events(ws_stack)[-1]["requestContext"]["connectionId"]
        callback = ws_stack.urls["websocket-callback"]
        got = requests.get(f"{callback}/@connections/{connection_id}", timeout=5)
        assert got.status_code == 200 and got.json()["identity"]["sourceIp"] == "127.0.0.1"
        assert (
            requests.delete(f"{callback}/@connections/{connection_id}", timeout=5).status_code
            == 204
        )
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    gone = requests.post(f"{callback}/@connections/{connection_id}", data=b"x", timeout=5)
    assert gone.status_code == 410 and gone.headers["x-amzn-ErrorType"] == "GoneException"
