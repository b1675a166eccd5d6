"""Specification: events have contracts (kefu.events_catalog). docs/events.md's table is the
one generated from them; a published event's detail decodes back into its contract; a consumer
given an unknown or malformed event reports that record as failed, with a reason in the log,
and goes on with the rest of the batch (no KeyError)."""

from __future__ import annotations

import json
import logging

import pytest
from kefu import events
from kefu import events_catalog as contracts
from kefu.consumers import event_consumer

from infra import events_doc


def test_docs_events_md_table_is_generated_from_the_contracts():
    text = events_doc.DOC.read_text(encoding="utf-8")
    assert events_doc.render(text) == text, "run `python -m infra.events_doc`"
    for kind in contracts.CATALOG:
        assert f"| `{kind}` |" in text


def test_every_type_has_a_source_and_the_constants_name_the_contracts():
    assert set(events.SOURCES) == set(contracts.CATALOG)
    assert all(src.startswith("kefu.") for src in events.SOURCES.values())
    assert events.REPLY_CREATED == contracts.ReplyCreated.TYPE == "reply.created"


def test_a_published_detail_is_the_old_envelope_and_decodes_back():
    sent = events.DomainEvent(
        contracts.TicketUpdated(ticket_id="t1", status="open", by="lead"), "shop-a", "e1", 5
    )
    detail = sent.detail()
    assert detail == {
        "event_id": "e1",
        "type": "ticket.updated",
        "shop_id": "shop-a",
        "occurred_at": 5,
        # `comment` is sent only on comments: left out, not null
        "data": {
            "ticket_id": "t1",
            "changes": {},
            "status": "open",
            "priority": None,
            "assignee": None,
            "by": "lead",
        },
    }
    got = events.decode(json.loads(json.dumps(detail)))
    assert got.data == sent.data and got.type == "ticket.updated" and got.shop_id == "shop-a"


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"type": "no.such_type", "shop_id": "s", "data": {}}, "unknown_type"),
        ({"type": "reply.created", "shop_id": "s", "data": {"message_id": "m"}}, "malformed_data"),
        (
            {"type": "agent.slot_freed", "shop_id": "s", "data": {"username": 7}},
            "malformed_data",
        ),
        ({"type": "agent.slot_freed", "data": {"username": "u"}}, "malformed_envelope"),
    ],
)
def test_decode_names_what_is_wrong(detail, reason):
    with pytest.raises(events.BadEvent) as err:
        events.decode(detail)
    assert err.value.reason == reason


def _record(message_id: str, detail: dict) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": json.dumps({"detail-type": detail.get("type"), "detail": detail}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
        "awsRegion": "us-east-1",
    }


class _Context:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_a_consumer_fails_unknown_and_malformed_records_with_a_reason_and_handles_the_rest(
    caplog,
):
    seen: list[contracts.EventData] = []

    def handle(event: events.Event, record) -> dict:
        seen.append(event.data)
        return {}

    logger, handler = event_consumer("contracts-test", handle)
    good = {
        "event_id": "agent.slot_freed:u:1:online",
        "type": "agent.slot_freed",
        "shop_id": "s",
        "occurred_at": 1,
        "data": {"username": "u", "reason": "online"},
    }
    unknown = {**good, "type": "agent.teleported"}
    missing = {**good, "data": {"reason": "online"}}  # no username
    batch = {"Records": [_record("m1", unknown), _record("m2", good), _record("m3", missing)]}
    with caplog.at_level(logging.INFO):
        out = handler(batch, _Context())
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert seen == [contracts.AgentSlotFreed(username="u", reason="online")]
    rejected = [(r.reason, r.message_id) for r in caplog.records if r.getMessage() == "rejected"]
    assert rejected == [("unknown_type", "m1"), ("malformed_data", "m3")]
