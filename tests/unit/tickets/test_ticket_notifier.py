"""Specification: when a ticket is resolved the customer gets one short system message in their
conversation, delivered through the reply path (reply.created) — once per resolution, even when
the event arrives twice."""

import json

from kefu.storage.messages import Message, conversation_key
from kefu.tickets import service
from kefu.tickets.notifier import notify_resolved
from kefu.tickets.service import ConversationTicket, NewTicket, TicketChange

from tests.support.factories import customer_says
from tests.unit.tickets.conftest import FRIDAY_19


def _resolved_event(kefu_env):
    (event,) = kefu_env.events("ticket.resolved")
    return event


def _ticket_from_conversation(shop):
    received = customer_says("shop-a", "o-1", "退款没到账")
    t = service.create_from_conversation(
        shop["sup"], received.conversation_id, ConversationTicket(subject="退款没到账")
    )
    return received, t


def test_the_customer_is_told_once_per_resolution(shop, kefu_env, clock):
    received, t = _ticket_from_conversation(shop)
    clock.set(FRIDAY_19 + 1000)
    service.update_ticket(
        shop["sup"], t["ticket_id"], TicketChange(status="resolved", resolution_note="已原路退回")
    )
    event = _resolved_event(kefu_env)
    first = notify_resolved(event)
    again = notify_resolved(event)
    assert first.status == "sent" and again.status == "repeated"
    assert again.message_id == first.message_id
    messages = [
        m
        for m in Message.query(conversation_key("shop-a", received.conversation_id))
        if m.sender_type == "system"
    ]
    assert len(messages) == 1
    text = messages[0].content["text"]
    assert text == f"您的工单 #{t['short_id']}「退款没到账」已处理完成：已原路退回"
    replies = kefu_env.events("reply.created")
    # The repeat re-announces the same message (same event id) while it is still pending.
    assert {r["event_id"] for r in replies} == {f"reply.created:{first.message_id}"}
    assert replies[0]["data"]["sender"] == {"type": "system", "id": "tickets"}
    assert replies[0]["data"]["reply_to"] == "wechat_openid:o-1"


def test_a_ticket_without_a_conversation_uses_the_customers_latest(shop, kefu_env):
    received = customer_says("shop-a", "o-2", "你好")
    t = service.create_ticket(
        shop["sup"], NewTicket(subject="发票"), customer_id=received.customer_id
    )
    service.update_ticket(shop["sup"], t["ticket_id"], TicketChange(status="resolved"))
    assert notify_resolved(_resolved_event(kefu_env)).status == "sent"
    (reply,) = kefu_env.events("reply.created")
    assert reply["data"]["conversation_id"] == received.conversation_id
    assert reply["data"]["content"]["text"].endswith("已处理完成。")


def test_no_customer_or_a_reopened_ticket_is_not_notified(shop, kefu_env, clock):
    t = service.create_ticket(shop["sup"], NewTicket(subject="内部"))
    service.update_ticket(shop["sup"], t["ticket_id"], TicketChange(status="resolved"))
    assert notify_resolved(_resolved_event(kefu_env)).status == "skipped"

    kefu_env.seen.clear()
    received, t2 = _ticket_from_conversation(shop)
    clock.set(FRIDAY_19 + 1000)
    service.update_ticket(shop["sup"], t2["ticket_id"], TicketChange(status="resolved"))
    event = _resolved_event(kefu_env)
    clock.set(FRIDAY_19 + 2000)
    service.update_ticket(shop["sup"], t2["ticket_id"], TicketChange(status="open"))
    assert notify_resolved(event).status == "skipped"


def test_the_handler_reports_batch_item_failures(shop, kefu_env, monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "functions" / "ticket_notifier" / "app.py"
    spec = importlib.util.spec_from_file_location("ticket_notifier_app", path)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    _, t = _ticket_from_conversation(shop)
    service.update_ticket(shop["sup"], t["ticket_id"], TicketChange(status="resolved"))
    event = _resolved_event(kefu_env)
    records = [
        {
            "messageId": "m1",
            "receiptHandle": "r1",
            "body": json.dumps({"detail-type": "ticket.resolved", "detail": event}),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        },
        {
            "messageId": "m2",
            "receiptHandle": "r2",
            "body": "not json",
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        },
    ]

    class Ctx:
        function_name = "ticket_notifier"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:x"
        aws_request_id = "req"

    out = app.handler({"Records": records}, Ctx())
    assert out == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
