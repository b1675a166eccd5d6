"""A customer's message arrives: store it once, append it to their one open conversation.

The common case — a known customer writing into their open conversation — costs one GetItem
(the identity, which carries a hint of the open conversation) and one TransactWriteItems that
de-duplicates, stores the message and updates the conversation atomically. The hint is checked
by the transaction's condition; when it is stale (conversation closed, or none yet), the slow
path reads the customer, the authority, and opens a conversation if needed.

A duplicate (WeChat retries a push it did not get an answer for within 5 s; an app retries a send)
fails the de-duplication condition, so nothing is written twice and the first copy's ids are
returned to the caller, which re-publishes the same event (consumers drop repeats by event id).

A message may carry a replay guard (a WeChat push's signed timestamp and nonce): its key is
written in the same transaction, with the digest of what it carried. The same request again
(WeChat's retry) passes and is a duplicate as above; the same guard with other content is
refused (`Replayed`) and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError, TransactWriteError

from kefu.conversations.content import preview
from kefu.conversations.once import first_copy, save_once
from kefu.customers import Identity, get_customer
from kefu.ids import new_id
from kefu.limits import Window, refused
from kefu.storage.conversations import (
    OPEN_STATUSES,
    Conversation,
    Wait,
    customer_key,
    queue_key,
)
from kefu.storage.customers import Customer, CustomerIdentity
from kefu.storage.messages import Message, conversation_key, message_key
from kefu.storage.runtime import PushNonce

if TYPE_CHECKING:
    from kefu.storage.shops import ShopProfile
from kefu.storage.tx import condition_failed, old_item, write_transaction


@dataclass(frozen=True)
class ReplayGuard:
    """The one-time key of the request that carried a message, and a digest of what it carried."""

    key: str  # PushNonce.key(...)
    digest: str
    expires_at: int  # epoch seconds


class Replayed(Exception):
    """The request's one-time key was already used for different content."""


def _guard_condition(guard: ReplayGuard) -> Any:
    return PushNonce.pk.does_not_exist() | (PushNonce.digest == guard.digest)


def claim_replay_guard(guard: ReplayGuard) -> None:
    """Record the guard on its own, for a request that stores nothing through a message
    transaction (an event push) or before one (first contact creates the customer). Idempotent
    for the same content; raises Replayed for other content."""
    item = PushNonce(guard.key, expires_at=guard.expires_at, digest=guard.digest)
    try:
        item.save(condition=_guard_condition(guard))
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Replayed(guard.key) from None
        raise


@dataclass(frozen=True)
class InboundMessage:
    shop_id: str
    channel: str  # wechat_miniprogram | app | h5
    identity: CustomerIdentity
    reply_to: str  # "<identity kind>:<external id>"
    type: str
    content: dict
    dedupe_key: str
    received_at: int
    channel_message_id: str | None = None
    default_queue: str = "default"
    # The shop's bot is on (ShopProfile.bot_enabled, cached by intake): a new conversation
    # opens with the bot instead of in the queue (kefu.bot, docs/bot.md).
    bot: bool = False
    # The shop has enabled auto-tag rules on messages (ShopProfile.message_tag_rules, cached
    # likewise): the message goes to the tagging function (kefu.tags, docs/tags.md).
    tagging: bool = False
    # A WeChat push's (timestamp, nonce): written with the message, refused if reused (above).
    replay_guard: ReplayGuard | None = None
    # The customer's message-rate window (kefu.limits), counted in the storing transaction;
    # None: not limited (WeChat pushes, docs/decisions.md "Limits").
    limit: Window | None = None

    @classmethod
    def from_shop(
        cls,
        shop: ShopProfile,
        *,
        channel: str,
        identity: CustomerIdentity,
        sender: Identity,
        kind: str,
        content: dict,
        dedupe_key: str,
        received_at: int,
        channel_message_id: str | None = None,
        replay_guard: ReplayGuard | None = None,
        limit: Window | None = None,
    ) -> InboundMessage:
        """The one way intake builds a message: replies go back to the identity the customer
        wrote from; the default queue and the bot's switch are the shop's."""
        return cls(
            shop_id=shop.shop_id,
            channel=channel,
            identity=identity,
            reply_to=sender.ref,
            type=kind,
            content=content,
            dedupe_key=dedupe_key,
            received_at=received_at,
            channel_message_id=channel_message_id,
            default_queue=shop.default_queue,
            bot=bool(shop.bot_enabled),
            tagging=bool(shop.message_tag_rules),
            replay_guard=replay_guard,
            limit=limit,
        )


@dataclass(frozen=True)
class Received:
    shop_id: str
    customer_id: str
    conversation_id: str
    message_id: str
    msg_key: str
    duplicate: bool
    new_conversation: bool
    reopened: bool = False


def receive_customer_message(msg: InboundMessage) -> Received:
    message_id = new_id("msg", msg.received_at)
    hint = msg.identity.open_conversation_id
    if hint:
        outcome = _append(msg, hint, message_id, refresh_hint=False)
        if isinstance(outcome, Received):
            return outcome
    for _ in range(4):
        customer = get_customer(msg.shop_id, msg.identity.customer_id)
        if customer is None:
            raise RuntimeError(f"identity points at missing customer {msg.identity.customer_id}")
        current = customer.open_conversation_id
        if current:
            outcome = _append(msg, current, message_id, refresh_hint=current != hint)
            if isinstance(outcome, Received):
                return outcome
            if outcome == "resolved":
                reopened = _reopen(msg, current, message_id)
                if reopened is not None:
                    return reopened
                continue
        opened = _open(msg, message_id, replacing=current)
        if opened is not None:
            return opened
    raise RuntimeError("conversation changed concurrently too many times; retry the message")


def _message_item(msg: InboundMessage, conversation_id: str, message_id: str) -> Message:
    return Message(
        conversation_key(msg.shop_id, conversation_id),
        message_key(msg.received_at, message_id),
        shop_id=msg.shop_id,
        conversation_id=conversation_id,
        message_id=message_id,
        customer_id=msg.identity.customer_id,
        direction="in",
        sender_type="customer",
        sender_id=msg.identity.customer_id,
        type=msg.type,
        content=msg.content,
        channel=msg.channel,
        channel_message_id=msg.channel_message_id,
        created_at=msg.received_at,
    )


def _activity_actions(msg: InboundMessage) -> list:
    at = msg.received_at
    return [
        Conversation.last_activity_at.set(at),
        Conversation.last_message_at.set(at),
        Conversation.last_customer_message_at.set(at),
        Conversation.last_message_preview.set(preview(msg.type, msg.content)),
        Conversation.message_count.add(1),
        Conversation.unread_count.add(1),
        Conversation.channel.set(msg.channel),
        Conversation.reply_to.set(msg.reply_to),
        # The customer wrote: a pending or snoozed conversation is back in the agent's list.
        Conversation.agent_state.remove(),
        Conversation.snoozed_until.remove(),
    ]


def _duplicate(msg: InboundMessage, exc: TransactWriteError) -> Received | None:
    reasons = exc.cancellation_reasons or []
    if msg.replay_guard is not None and reasons and condition_failed(exc, len(reasons) - 1):
        # Checked first: a reused guard may also repeat the MsgId, which is not a retry then.
        raise Replayed(msg.replay_guard.key)
    first = first_copy(exc)
    if first is None:
        return None
    return Received(
        shop_id=msg.shop_id,
        customer_id=msg.identity.customer_id,
        conversation_id=first.conversation_id,
        message_id=first.message_id,
        msg_key=first.msg_key,
        duplicate=True,
        new_conversation=False,
    )


@contextmanager
def _storing(msg: InboundMessage, conversation_id: str, message_id: str) -> Iterator[Any]:
    """A transaction that stores the message once: its de-duplication key (item 0 of the
    request: pynamodb sends puts first) and the message. The caller adds the conversation's
    changes; all of it commits together or not at all. A replay guard (WeChat pushes) or the
    customer's rate counter (client messages) goes last — a message has at most one of them — so
    it is the request's last item and the callers' item indexes do not move."""
    try:
        with write_transaction() as tx:
            save_once(
                tx,
                msg.shop_id,
                msg.channel,
                msg.dedupe_key,
                conversation_id=conversation_id,
                message_id=message_id,
                msg_key=message_key(msg.received_at, message_id),
                at_ms=msg.received_at,
            )
            tx.save(_message_item(msg, conversation_id, message_id))
            yield tx
            guard = msg.replay_guard
            if guard is not None:
                tx.update(
                    PushNonce(guard.key),
                    [
                        PushNonce.expires_at.set(guard.expires_at),
                        PushNonce.digest.set(guard.digest),
                    ],
                    condition=_guard_condition(guard),
                )
            elif msg.limit is not None:
                counter, actions, condition = msg.limit.update()
                tx.update(counter, actions, condition=condition)
    except TransactWriteError as exc:
        _raise_if_over_limit(msg, exc)
        raise


def _raise_if_over_limit(msg: InboundMessage, exc: TransactWriteError) -> None:
    """Over the customer's limit: 429, nothing stored. A duplicate wins (it was stored, so it
    is answered as such), which is why it is checked first and never counted."""
    reasons = exc.cancellation_reasons or []
    if msg.limit is None or not reasons or condition_failed(exc, 0):
        return
    if condition_failed(exc, len(reasons) - 1):
        raise refused(msg.limit, msg.received_at) from None


def _received(
    msg: InboundMessage, conversation_id: str, message_id: str, **flags: bool
) -> Received:
    return Received(
        shop_id=msg.shop_id,
        customer_id=msg.identity.customer_id,
        conversation_id=conversation_id,
        message_id=message_id,
        msg_key=message_key(msg.received_at, message_id),
        duplicate=False,
        new_conversation=flags.pop("new_conversation", False),
        **flags,
    )


def _append(
    msg: InboundMessage, conversation_id: str, message_id: str, *, refresh_hint: bool
) -> Received | str:
    """Append to an open conversation. Returns Received, or why not: "resolved" | "not_open"."""
    conv = Conversation(msg.shop_id, conversation_id)
    try:
        with _storing(msg, conversation_id, message_id) as tx:
            tx.update(
                conv,
                _activity_actions(msg),
                condition=Conversation.status.is_in(*OPEN_STATUSES)
                & (Conversation.customer_id == msg.identity.customer_id),
                return_values="ALL_OLD",
            )
            if refresh_hint:
                tx.update(
                    msg.identity, [CustomerIdentity.open_conversation_id.set(conversation_id)]
                )
    except TransactWriteError as exc:
        dup = _duplicate(msg, exc)
        if dup is not None:
            return dup
        if condition_failed(exc, 2):
            status = (old_item(exc, 2) or {}).get("status", {}).get("S")
            return "resolved" if status == "resolved" else "not_open"
        raise
    return _received(msg, conversation_id, message_id)


def _reopen(msg: InboundMessage, conversation_id: str, message_id: str) -> Received | None:
    """The customer writes again after an agent resolved: the same conversation comes back, to
    the same agent if there was one (they have the context), otherwise to the queue."""
    try:
        conv = Conversation.get(msg.shop_id, conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        return None
    if conv.status != "resolved":
        return None
    if conv.assignee:
        status_actions = Conversation.status_actions(msg.shop_id, "assigned")
    else:
        # Back in its queue's waiting line; routing assigns it (`message.received`, reopened).
        wait = Wait(conv.queue, int(conv.priority or 0), msg.received_at)
        status_actions = Conversation.status_actions(msg.shop_id, "queued", wait=wait)
    actions = [
        *_activity_actions(msg),
        *status_actions,
        Conversation.resolved_at.remove(),
        Conversation.resolved_by.remove(),
    ]
    try:
        with _storing(msg, conversation_id, message_id) as tx:
            tx.update(conv, actions, condition=Conversation.status == "resolved")
            tx.update(msg.identity, [CustomerIdentity.open_conversation_id.set(conversation_id)])
            if conv.assignee:
                # It returns to its agent (they have the context), counted in their load even
                # above capacity: a customer's message is never refused (docs/routing.md).
                from kefu.assignment.core import agent_increment

                agent, agent_actions = agent_increment(msg.shop_id, conv.assignee, msg.received_at)
                tx.update(agent, agent_actions)
    except TransactWriteError as exc:
        dup = _duplicate(msg, exc)
        if dup is not None:
            return dup
        if condition_failed(exc, 2):
            return None
        raise
    return _received(msg, conversation_id, message_id, reopened=True)


def _open(msg: InboundMessage, message_id: str, *, replacing: str | None) -> Received | None:
    """Open a new conversation and make it the customer's one open conversation. Returns None
    when another message opened one first (the caller retries and appends to that one)."""
    at = msg.received_at
    conversation_id = new_id("cv", at)
    # With the bot on, the bot answers first and hands off to a person (kefu.bot.handoff);
    # otherwise the conversation waits in the default queue until routing assigns it.
    status = "bot" if msg.bot else "queued"
    conv = Conversation(
        msg.shop_id,
        conversation_id,
        customer_id=msg.identity.customer_id,
        shop_customer=customer_key(msg.shop_id, msg.identity.customer_id),
        channel=msg.channel,
        reply_to=msg.reply_to,
        queue=msg.default_queue,
        shop_queue=queue_key(msg.shop_id, msg.default_queue),
        opened_at=at,
        # Waiting from its first message, not from when routing gets to it (which keeps it).
        queued_at=at if status == "queued" else None,
        last_activity_at=at,
        last_message_at=at,
        last_customer_message_at=at,
        last_message_preview=preview(msg.type, msg.content),
        message_count=1,
        unread_count=1,
    )
    conv.set_status(status)
    pointer_free = Customer.open_conversation_id.does_not_exist()
    if replacing:
        pointer_free = pointer_free | (Customer.open_conversation_id == replacing)
    try:
        with _storing(msg, conversation_id, message_id) as tx:
            tx.save(conv, condition=Conversation.conversation_id.does_not_exist())
            tx.update(
                Customer(msg.shop_id, Customer.key(msg.identity.customer_id)),
                [
                    Customer.open_conversation_id.set(conversation_id),
                    Customer.last_seen_at.set(at),
                    # The customer list's order (by_last_contact): in this write, never per message.
                    Customer.last_contact_at.set(at),
                ],
                condition=pointer_free,
            )
            tx.update(msg.identity, [CustomerIdentity.open_conversation_id.set(conversation_id)])
    except TransactWriteError as exc:
        dup = _duplicate(msg, exc)
        if dup is not None:
            return dup
        if condition_failed(exc, 3):
            return None
        raise
    return _received(msg, conversation_id, message_id, new_conversation=True)
