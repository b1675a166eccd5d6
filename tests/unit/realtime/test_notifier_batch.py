"""Specification: the notifier's cost per event is small — one dedupe write per event (the claim
names its SQS message and is not marked done), and the records of one batch share their reads
(each conversation read once, together; each subscriber's connections queried once)."""

from __future__ import annotations

import pytest
from kefu import dedupe
from kefu.conversations import service
from kefu.storage.connections import Connection
from kefu.storage.conversations import Conversation

from tests.support.factories import customer_says, make_shop, make_staff
from tests.unit.realtime.conftest import connected
from tests.unit.realtime.test_notifier_once import Ctx, _app, _received, _record


@pytest.fixture
def two_held(kefu_env):
    make_shop("shop-a")
    agent = make_staff("shop-a", "agent1")
    ids = []
    for openid in ("oOpenId0001", "oOpenId0002"):
        received = customer_says("shop-a", openid, "在吗")
        service.claim(agent, received.conversation_id)
        ids.append(received.conversation_id)
    return ids


def _counting(monkeypatch, target, name):
    calls = []
    real = getattr(target, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


def test_one_dedupe_write_per_event_and_copies_still_dropped(two_held, sockets, monkeypatch):
    socket = connected("shop-a", "staff", "agent1")
    detail = _received(two_held[0])
    updates = _counting(monkeypatch, dedupe.EventSeen, "update")
    app = _app()
    app.handler({"Records": [_record(1, detail)]}, Ctx())
    assert updates == []  # no "done" write
    seen = dedupe.EventSeen.get(dedupe.EventSeen.key("notifier", "shop-a", detail["event_id"]))
    assert seen.message_id == "m1"
    # A copy (another SQS message), even after the lease: dropped.
    seen.update(actions=[dedupe.EventSeen.lease_until.set(0)])
    app.handler({"Records": [_record(2, detail)]}, Ctx())
    assert len(sockets.frames(socket)) == 1
    # The same SQS message back after the lease: its attempt did not finish, so it runs again.
    app.handler({"Records": [_record(1, detail)]}, Ctx())
    assert len(sockets.frames(socket)) == 2


def test_a_batch_reads_each_conversation_and_each_subscribers_sockets_once(
    two_held, sockets, monkeypatch
):
    socket = connected("shop-a", "staff", "agent1")
    gets = _counting(monkeypatch, Conversation, "get")
    batch_gets = _counting(monkeypatch, Conversation, "batch_get")
    queries = _counting(monkeypatch, Connection.by_subscriber, "query")
    first, second = (_received(c) for c in two_held)
    second = {**second, "event_id": "message.received:second"}
    delivered = {
        **first,
        "event_id": "message.delivered:first",
        "type": "message.delivered",
        "data": {"conversation_id": two_held[0], "message_id": "m9"},
    }
    records = [_record(1, first), _record(2, second), _record(3, delivered)]
    assert _app().handler({"Records": records}, Ctx()) == {"batchItemFailures": []}
    assert len(sockets.frames(socket)) == 3  # every event reached agent1, as before
    assert (len(gets), len(batch_gets), len(queries)) == (0, 1, 1)
