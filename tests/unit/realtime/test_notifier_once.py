"""Specification: the notifier handles each event once by its id — a `message.received`
re-published with the same id (WeChat retried the push) reaches a WebSocket once — while a
failed attempt is retried, and a repeat costs two small writes, not a second fan-out."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from kefu import dedupe
from kefu.conversations import service

from tests.support.factories import customer_says, make_shop, make_staff
from tests.unit.realtime.conftest import connected

APP = Path(__file__).resolve().parents[3] / "functions" / "notifier" / "app.py"


class Ctx:
    function_name = "notifier"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:notifier"
    aws_request_id = "req"


def _app():
    spec = importlib.util.spec_from_file_location("notifier_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(n: int, detail: dict) -> dict:
    return {
        "messageId": f"m{n}",
        "receiptHandle": f"r{n}",
        "body": json.dumps({"detail-type": detail["type"], "detail": detail}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


@pytest.fixture
def assigned(kefu_env):
    make_shop("shop-a")
    received = customer_says("shop-a", "oOpenId0001", "在吗")
    service.claim(make_staff("shop-a", "agent1"), received.conversation_id)
    return received.conversation_id


def _received(conversation_id: str) -> dict:
    return {
        "event_id": f"message.received:{conversation_id}:m1",
        "type": "message.received",
        "shop_id": "shop-a",
        "occurred_at": 1732350000000,
        "data": {"conversation_id": conversation_id, "message_id": "m1", "text": "在吗"},
    }


def test_a_republished_event_reaches_a_socket_once(assigned, sockets):
    socket = connected("shop-a", "staff", "agent1")
    app = _app()
    detail = _received(assigned)
    # WeChat's three tries, re-published by intake with one id: in one batch and in later ones.
    out = app.handler({"Records": [_record(1, detail), _record(2, detail)]}, Ctx())
    assert out == {"batchItemFailures": []}
    app.handler({"Records": [_record(3, detail)]}, Ctx())
    assert [f["event_id"] for f in sockets.frames(socket)] == [detail["event_id"]]
    # Another event still goes through.
    app.handler({"Records": [_record(4, {**detail, "event_id": "other"})]}, Ctx())
    assert len(sockets.frames(socket)) == 2


def test_a_failed_attempt_is_retried_not_swallowed(assigned, sockets, monkeypatch):
    socket = connected("shop-a", "staff", "agent1")
    app = _app()
    detail = _received(assigned)
    real = app.notify
    calls = []

    def flaky(d):
        calls.append(d.event_id)  # the decoded event (kefu.events.Event)
        if len(calls) == 1:
            raise RuntimeError("storage hiccup")
        return real(d)

    monkeypatch.setattr(app, "notify", flaky)
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):  # the whole batch failed: SQS keeps the record
        app.handler({"Records": [_record(1, detail)]}, Ctx())
    again = app.handler({"Records": [_record(1, detail)]}, Ctx())  # SQS redelivers it
    assert again == {"batchItemFailures": []}
    assert len(calls) == 2 and len(sockets.frames(socket)) == 1


def test_a_claim_left_by_a_crashed_consumer_runs_out(assigned, sockets):
    socket = connected("shop-a", "staff", "agent1")
    detail = _received(assigned)
    assert dedupe.claim("notifier", "shop-a", detail["event_id"]) is not None  # then it died
    app = _app()
    app.handler({"Records": [_record(1, detail)]}, Ctx())
    assert sockets.frames(socket) == []  # still within the lease: someone may be at work
    item = dedupe.EventSeen.get(dedupe.EventSeen.key("notifier", "shop-a", detail["event_id"]))
    item.update(actions=[dedupe.EventSeen.lease_until.set(0)])
    app.handler({"Records": [_record(2, detail)]}, Ctx())
    assert len(sockets.frames(socket)) == 1
