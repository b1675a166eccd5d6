"""Telling the customer their ticket is resolved (`ticket.resolved` -> TicketNotifierQueue).

The notice is a system message in the ticket's conversation (or the customer's latest one),
stored and announced as `reply.created`, so the outbound function delivers it like any reply.
Once per resolution: a de-duplication key (RuntimeTable) is written in the same transaction as
the message; a repeated event finds it and only re-announces the same message (same event id),
which completes a first attempt that stored but failed to publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.conversations.content import preview
from kefu.ids import new_id, now_ms
from kefu.storage.conversations import Conversation
from kefu.storage.messages import Message, conversation_key, message_key
from kefu.storage.tickets import Ticket, TicketNotice, ticket_sk
from kefu.storage.tx import condition_failed, write_transaction

NOTICE_TTL_SECONDS = 30 * 24 * 3600
SENDER = {"type": "system", "id": "tickets"}


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | repeated | skipped
    reason: str | None = None
    message_id: str | None = None


def notice_text(short_id: str, subject: str, note: str | None) -> str:
    text = f"您的工单 #{short_id}「{subject}」已处理完成"
    return f"{text}：{note}" if note else f"{text}。"


def notify_resolved(detail: dict[str, Any] | events.Event) -> Outcome:
    event = events.decode(detail)
    data = event.data
    if not isinstance(data, contracts.TicketResolved) or data.resolved_at is None:
        return Outcome("skipped", f"not a resolution: {event.type}")
    shop_id = event.shop_id
    ticket_id, resolved_at = data.ticket_id, int(data.resolved_at)
    dedupe = TicketNotice.key(shop_id, ticket_id, resolved_at)
    try:
        seen = TicketNotice.get(dedupe, consistent_read=True)
    except TicketNotice.DoesNotExist:
        seen = None
    if seen is not None:
        _announce_existing(shop_id, seen)
        return Outcome("repeated", message_id=seen.message_id)
    try:
        ticket = Ticket.get(shop_id, ticket_sk(ticket_id), consistent_read=True)
    except Ticket.DoesNotExist:
        return Outcome("skipped", "ticket not found")
    if ticket.resolved_at != resolved_at:
        return Outcome("skipped", "ticket was reopened since")
    if not ticket.customer_id:
        return Outcome("skipped", "ticket has no customer")
    conv = _conversation(shop_id, ticket)
    if conv is None:
        return Outcome("skipped", "customer has no conversation to write in")
    at = now_ms()
    message_id = new_id("msg", at)
    content = {"text": notice_text(ticket.short_id, ticket.subject, ticket.resolution_note)}
    msg = Message(
        conversation_key(shop_id, conv.conversation_id),
        message_key(at, message_id),
        shop_id=shop_id,
        conversation_id=conv.conversation_id,
        message_id=message_id,
        customer_id=conv.customer_id,
        direction="out",
        sender_type="system",
        sender_id="tickets",
        type="text",
        content=content,
        channel=conv.channel,
        created_at=at,
        delivery_status="pending",
        delivery_attempts=0,
    )
    notice = TicketNotice(
        dedupe,
        expires_at=at // 1000 + NOTICE_TTL_SECONDS,
        conversation_id=conv.conversation_id,
        message_id=message_id,
        msg_key=msg.msg_key,
    )
    try:
        with write_transaction() as tx:
            tx.save(notice, condition=TicketNotice.pk.does_not_exist())
            tx.save(msg)
            # A system notice is not agent activity: the conversation's place in the lists and
            # its status stay as they are.
            tx.update(
                conv,
                [
                    Conversation.last_message_at.set(at),
                    Conversation.last_message_preview.set(preview("text", content)),
                    Conversation.message_count.add(1),
                ],
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):  # a concurrent delivery of the same event won
            seen = TicketNotice.get(dedupe, consistent_read=True)
            _announce_existing(shop_id, seen)
            return Outcome("repeated", message_id=seen.message_id)
        raise
    events.publish(_reply_event(shop_id, conv, message_id, msg.msg_key, content, at))
    return Outcome("sent", message_id=message_id)


def _conversation(shop_id: str, ticket: Ticket) -> Conversation | None:
    if ticket.conversation_id:
        try:
            return Conversation.get(shop_id, ticket.conversation_id)
        except Conversation.DoesNotExist:
            pass
    latest = list(
        Conversation.by_customer.query(
            Conversation.customer_key(shop_id, ticket.customer_id),
            scan_index_forward=False,
            limit=1,
        )
    )
    return latest[0] if latest else None


def _reply_event(
    shop_id: str, conv: Conversation, message_id: str, msg_key: str, content: dict, at: int
) -> events.DomainEvent:
    return events.DomainEvent(
        contracts.ReplyCreated(
            conversation_id=conv.conversation_id,
            message_id=message_id,
            msg_key=msg_key,
            customer_id=conv.customer_id,
            channel=conv.channel,
            reply_to=conv.reply_to,
            type="text",
            content=content,
            sender=SENDER,
        ),
        shop_id,
        f"{events.REPLY_CREATED}:{message_id}",
        occurred_at=at,
    )


def _announce_existing(shop_id: str, seen: TicketNotice) -> None:
    """Re-announce the stored notice (same event id) unless it already left."""
    try:
        msg = Message.get(conversation_key(shop_id, seen.conversation_id), seen.msg_key)
        conv = Conversation.get(shop_id, seen.conversation_id)
    except (Message.DoesNotExist, Conversation.DoesNotExist):
        return
    if msg.delivery_status != "pending":
        return  # outbound has it already
    content = msg.content.as_dict() if hasattr(msg.content, "as_dict") else dict(msg.content)
    events.publish(
        _reply_event(shop_id, conv, seen.message_id, seen.msg_key, content, msg.created_at)
    )
