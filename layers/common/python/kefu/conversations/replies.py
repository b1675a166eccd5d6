"""Agents' replies: stored once (a retried request with the same `client_message_id` answers
the first copy), handed to outbound delivery through `reply.created`, and resent on request when
delivery ended `unknown` or `failed`. The message shapes and the transaction actions here are
also how the bot stores its replies (kefu.bot.commit, kefu.bot.handoff)."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass
from typing import Any, cast

from msgspec import UNSET, UnsetType
from pynamodb.exceptions import TransactWriteError, UpdateError

from kefu import events
from kefu import events_catalog as contracts
from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.auth.staff_tokens import staff_actor_for
from kefu.conversations.content import AgentReply, content_of, message_type, preview
from kefu.conversations.once import FirstCopy, first_copy, save_once, seen_before
from kefu.conversations.service import get_conversation
from kefu.errors import Conflict, NotFound, UpstreamUnavailable
from kefu.ids import new_id, now_ms
from kefu.media import check_media_key
from kefu.storage.conversations import Conversation
from kefu.storage.messages import Message, conversation_key, message_key
from kefu.storage.shops import PROFILE, ShopProfile, StaffMember
from kefu.storage.tx import condition_failed, get_together, write_transaction


@dataclass(frozen=True)
class Replied:
    message: dict  # the message view
    duplicate: bool  # a repeat of a request already stored: the first copy, nothing new


def reply(actor: StaffActor, conversation_id: str, body: AgentReply) -> dict:
    """Store the agent's reply and hand it to outbound delivery (via `reply.created`)."""
    return send_reply(actor, conversation_id, body).message


@dataclass(frozen=True)
class ReadForReply:
    """What one request read for a reply: the staff member (their display name goes in
    `reply.created`, so the notifier does not read it) and the conversation."""

    member: StaffMember | None
    conversation: Conversation | None


def read_for_reply(
    shop_id: str, username: str, conversation_id: str
) -> tuple[StaffActor, ReadForReply]:
    """The actor and the conversation in one request (BatchGetItem, strongly consistent): the
    staff record (read on every request, as auth does: a role change or a disabled account
    takes effect at once), the shop's profile (a suspended shop's staff are refused) and the
    conversation; then auth's usual checks. The token was verified offline first."""
    got = get_together(
        [
            (StaffMember, shop_id, StaffMember.key(username)),
            (ShopProfile, shop_id, PROFILE),
            (Conversation, shop_id, conversation_id),
        ]
    )
    member = cast(StaffMember | None, got[StaffMember])
    profile = cast(ShopProfile | None, got[ShopProfile])
    if profile is not None:
        from kefu.shops import remember_profile

        remember_profile(profile)  # as a status check would have: the shop caches stay warm
    actor = staff_actor_for(shop_id, username, member, shop=profile)
    return actor, ReadForReply(member, cast(Conversation | None, got[Conversation]))


def send_reply(
    actor: StaffActor,
    conversation_id: str,
    body: AgentReply,
    *,
    read: ReadForReply | None = None,
) -> Replied:
    """As `reply`, and whether it was a repeat: with a `client_message_id` the reply is stored
    and sent once however often the request is retried (kefu.conversations.once). `read`: the
    staff member and conversation read_for_reply read (else the conversation is read here)."""
    p.require(actor, p.CONVERSATIONS_REPLY)
    once_key = (
        f"{actor.username}:{conversation_id}:{body.client_message_id}"
        if body.client_message_id
        else None
    )
    conv = (
        get_conversation(actor, conversation_id, read=read.conversation)
        if read is not None
        else get_conversation(actor, conversation_id)
    )
    try:
        if conv.status == "closed":
            raise Conflict(
                "conversation is closed; the customer's next message opens a new one",
                code="closed",
            )
        if conv.assignee != actor.username and not actor.can(p.CONVERSATIONS_ASSIGN):
            raise Conflict("claim the conversation before replying", code="not_assigned_to_you")
    except Conflict:
        # A retry whose first copy went through before the conversation changed.
        first = seen_before(actor.shop_id, REPLY_SCOPE, once_key) if once_key else None
        if first is None:
            raise
        return _replayed(conv, first)
    kind = message_type(body)
    content = content_of(body)
    if kind == "image":
        check_media_key(actor.shop_id, f"staff/{actor.username}", content["media_key"])
    at = now_ms()
    msg = outgoing_message(
        conv, kind, content, sender_type="agent", sender_id=actor.username, at=at
    )
    actions = [*outgoing_actions(kind, content, at), Conversation.unread_count.set(0)]
    actions.append(Conversation.first_response_at.set(Conversation.first_response_at | at))
    try:
        with write_transaction() as tx:
            if once_key:
                save_once(
                    tx,
                    actor.shop_id,
                    REPLY_SCOPE,
                    once_key,
                    conversation_id=conversation_id,
                    message_id=msg.message_id,
                    msg_key=msg.msg_key,
                    at_ms=at,
                )
            tx.save(msg)
            tx.update(conv, actions, condition=Conversation.status != "closed")
    except TransactWriteError as exc:
        first = first_copy(exc) if once_key else None
        if first is not None:
            return _replayed(conv, first)
        # pynamodb sends puts before updates: [once key,] message, conversation.
        if condition_failed(exc, 2 if once_key else 1):
            raise Conflict("conversation was closed meanwhile", code="closed") from None
        raise
    # What the notifier would otherwise read: the conversation's assignee (for the delivery
    # receipt) and the agent's display name (what the customer sees of who replied).
    _queue_for_delivery(
        conv,
        msg,
        assignee=conv.assignee,
        sender_name=read.member.display_name if read is not None and read.member else UNSET,
    )
    from kefu.conversations.views import message_view

    return Replied(message_view(msg), duplicate=False)


REPLY_SCOPE = "reply"
NOT_QUEUED = "could not be queued for delivery; send it again"


def _queue_for_delivery(
    conv: Conversation,
    msg: Message,
    *,
    assignee: str | None | UnsetType = UNSET,
    sender_name: str | None | UnsetType = UNSET,
) -> None:
    try:
        events.publish(reply_created_event(conv, msg, assignee=assignee, sender_name=sender_name))
    except Exception as exc:
        # The reply is stored; say plainly that it was not queued, on the message and to the agent.
        Message(msg.conversation_key, msg.msg_key).update(
            actions=[
                Message.delivery_status.set("failed"),
                Message.delivery_error.set(NOT_QUEUED),
            ]
        )
        raise UpstreamUnavailable(
            "reply stored but not queued for delivery: send it again"
        ) from exc


def _replayed(conv: Conversation, first: FirstCopy) -> Replied:
    """The answer to a repeated request: the first copy. If outbound never picked it up (its
    `reply.created` was not published, or may not have been), publish it again: the event id is
    the same and outbound claims a delivery once, so this never sends twice."""
    from kefu.conversations.views import message_view

    try:
        stored = Message.get(conversation_key(conv.shop_id, first.conversation_id), first.msg_key)
    except Message.DoesNotExist:
        raise NotFound("the first copy of this reply is gone", code="message_not_found") from None
    if not stored.delivery_attempts and stored.delivery_status in ("pending", "failed"):
        _queue_for_delivery(conv, stored)
        if stored.delivery_status == "failed":
            try:
                stored.update(
                    actions=[
                        Message.delivery_status.set("pending"),
                        Message.delivery_error.remove(),
                    ],
                    condition=(Message.delivery_status == "failed")
                    & (Message.delivery_error == NOT_QUEUED),
                )
            except UpdateError:
                stored.refresh(consistent_read=True)  # outbound got to it first
    return Replied(message_view(stored), duplicate=True)


RESENDABLE = ("unknown", "failed")
_MESSAGE_ID = re.compile(r"^msg_(\d{13})[0-9a-f]{10}$")


def resend(actor: StaffActor, conversation_id: str, message_id: str) -> dict:
    """Send a reply again, on the agent's word: one whose delivery is `unknown` (WeChat may have
    received it; kefu never resends such a reply on its own) or `failed`. The same message goes
    back to outbound; audited."""
    p.require(actor, p.CONVERSATIONS_REPLY)
    conv = get_conversation(actor, conversation_id)
    if conv.status == "closed":
        raise Conflict(
            "conversation is closed; the customer's next message opens a new one", code="closed"
        )
    if conv.assignee != actor.username and not actor.can(p.CONVERSATIONS_ASSIGN):
        raise Conflict("claim the conversation before replying", code="not_assigned_to_you")
    found = _MESSAGE_ID.match(message_id)
    msg = None
    if found:
        with contextlib.suppress(Message.DoesNotExist):
            msg = Message.get(
                conversation_key(actor.shop_id, conversation_id),
                message_key(int(found.group(1)), message_id),
                consistent_read=True,
            )
    if msg is None or msg.direction != "out":
        raise NotFound(f"no reply {message_id!r} in this conversation", code="message_not_found")
    if msg.delivery_status not in RESENDABLE:
        raise Conflict(
            f"the reply is {msg.delivery_status}; only a reply whose delivery is "
            f"{' or '.join(RESENDABLE)} can be sent again",
            code="not_resendable",
        )
    at = now_ms()
    before = {"delivery_status": msg.delivery_status, "delivery_error": msg.delivery_error}
    try:
        with write_transaction() as tx:
            tx.save(
                staff_change(
                    actor,
                    action="message.resent",
                    target_type="message",
                    target_id=message_id,
                    before=before,
                    after={"delivery_status": "pending"},
                    at_ms=at,
                )
            )
            tx.update(
                msg,
                [Message.delivery_status.set("pending"), Message.delivery_error.remove()],
                condition=Message.delivery_status == msg.delivery_status,
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 1):  # puts before updates: audit 0, message 1
            raise Conflict("the reply changed meanwhile: reload it", code="stale") from None
        raise
    msg.delivery_status, msg.delivery_error = "pending", None
    event = reply_created_event(conv, msg)
    # Its own event id: consumers that drop repeated ids must see this as new.
    event = dataclasses.replace(event, event_id=f"{event.event_id}:resend:{at}", occurred_at=at)
    try:
        events.publish(event)
    except Exception as exc:
        Message(msg.conversation_key, msg.msg_key).update(
            actions=[Message.delivery_status.set("failed"), Message.delivery_error.set(NOT_QUEUED)]
        )
        raise UpstreamUnavailable("the reply could not be queued: send it again") from exc
    from kefu.conversations.views import message_view

    return message_view(msg)


# --- the outbound path, shared by agents' replies and the bot's (kefu.bot.turn) --------------


def outgoing_message(
    conv: Conversation,
    kind: str,
    content: dict,
    *,
    sender_type: str,
    sender_id: str | None,
    at: int,
    message_id: str | None = None,
) -> Message:
    """A message to the customer, pending delivery: saved by the caller in its transaction,
    then announced with `reply_created_event`, which outbound delivers."""
    message_id = message_id or new_id("msg", at)
    return Message(
        conversation_key(conv.shop_id, conv.conversation_id),
        message_key(at, message_id),
        shop_id=conv.shop_id,
        conversation_id=conv.conversation_id,
        message_id=message_id,
        customer_id=conv.customer_id,
        direction="out",
        sender_type=sender_type,
        sender_id=sender_id,
        type=kind,
        content=content,
        channel=conv.channel,
        created_at=at,
        delivery_status="pending",
        delivery_attempts=0,
    )


def outgoing_actions(kind: str, content: dict, at: int, *, count: int = 1) -> list:
    """The conversation's changes for `count` outgoing messages, the last being (kind, content)."""
    return [
        Conversation.last_activity_at.set(at),
        Conversation.last_message_at.set(at),
        Conversation.last_message_preview.set(preview(kind, content)),
        Conversation.message_count.add(count),
    ]


def reply_created_event(
    conv: Conversation,
    msg: Message,
    *,
    assignee: str | None | UnsetType = UNSET,
    sender_name: str | None | UnsetType = UNSET,
) -> events.DomainEvent:
    """`reply.created`: what outbound delivers (and the notifier pushes to in-app customers).
    `assignee`, `sender_name` (an agent's display name): sent when the caller knows them, so
    the notifier need not read them (docs/events.md)."""
    content = msg.content.as_dict() if hasattr(msg.content, "as_dict") else dict(msg.content)
    sender: dict[str, Any] = {"type": msg.sender_type, "id": msg.sender_id}
    if sender_name is not UNSET:
        sender["name"] = sender_name
    return events.DomainEvent(
        contracts.ReplyCreated(
            conversation_id=conv.conversation_id,
            message_id=msg.message_id,
            msg_key=msg.msg_key,
            customer_id=conv.customer_id,
            channel=conv.channel,
            reply_to=conv.reply_to,
            type=msg.type,
            content=content,
            sender=sender,
            assignee=assignee,
        ),
        conv.shop_id,
        f"{events.REPLY_CREATED}:{msg.message_id}",
        occurred_at=int(msg.created_at),
    )
