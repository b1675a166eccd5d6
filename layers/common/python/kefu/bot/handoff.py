"""Handing a conversation from the bot to people.

A hand-off is one conditional update, status bot -> queued (guarded: only while the bot still has
it), that puts the conversation in its queue's waiting line exactly as a queued conversation
waits (queued_at, wait_queue, wait_rank: the sparse `waiting` index), and records `handoff` on
it for the agent who takes it:
    {reason, intent, transcript (the last <= 10 customer and bot messages, oldest first), at}
The customer is told (the settings' hand-off text), and `handoff.requested` is announced:
routing routes it exactly as it routes `conversation.opened` (rules, then an agent with room,
else it waits). In the bot turn the update is part of the turn's own transaction, with the
bot's reply; `release_all` does it for every conversation the bot still has when it is turned
off.
"""

from __future__ import annotations

import logging
from typing import Any

from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu.events_catalog import HandoffRequested
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation, Wait, status_key
from kefu.storage.tx import write_transaction

log = logging.getLogger("kefu.bot")

REASONS = ("requested", "anger", "vip", "misses", "low_confidence", "rejected", "disabled")
TRANSCRIPT = 10  # messages kept for the agent
TRANSCRIPT_CHARS = 300  # of each message
RELEASE_LIMIT = (
    500  # conversations handed off per settings change (the rest: on their next message)
)


def remember(state: dict[str, Any], sender: str, text: str, at: int) -> None:
    """Add a message to the bot's running transcript (kept on bot_state, so a hand-off needs no
    read of the messages)."""
    if not text:
        return
    transcript = list(state.get("transcript") or [])
    transcript.append({"sender": sender, "text": text[:TRANSCRIPT_CHARS], "at": at})
    state["transcript"] = transcript[-TRANSCRIPT:]


def record(reason: str, intent: str | None, state: dict[str, Any], at: int) -> dict[str, Any]:
    if reason not in REASONS:
        raise ValueError(f"unknown hand-off reason {reason!r}")
    return {
        "reason": reason,
        "intent": intent,
        "transcript": list(state.get("transcript") or [])[-TRANSCRIPT:],
        "at": at,
    }


def actions(conv: Conversation, handoff: dict[str, Any], at: int) -> list:
    """The conversation's changes: queued and waiting in its queue, with the hand-off record.
    (last_activity_at is the caller's: the bot's reply message sets it.)"""
    wait = Wait(conv.queue, int(conv.priority or 0), at)
    return [
        *Conversation.status_actions(conv.shop_id, "queued", wait=wait),
        Conversation.handoff.set(handoff),
    ]


def event(conv: Conversation, handoff: dict[str, Any], question: str | None) -> events.DomainEvent:
    """`handoff.requested`. Beside the hand-off it carries what routing's rules read for a new
    conversation (channel, queue, and the customer's last question as the message)."""
    return events.DomainEvent(
        HandoffRequested(
            conversation_id=conv.conversation_id,
            customer_id=conv.customer_id,
            reason=handoff["reason"],
            intent=handoff["intent"],
            transcript=handoff["transcript"],
            channel=conv.channel,
            queue=conv.queue,
            type="text",
            content={"text": question or ""},
        ),
        conv.shop_id,
        f"{events.HANDOFF_REQUESTED}:{conv.conversation_id}:{handoff['at']}",
        occurred_at=handoff["at"],
    )


def last_question(state: dict[str, Any]) -> str | None:
    for line in reversed(state.get("transcript") or []):
        if line.get("sender") == "customer":
            return line.get("text")
    return None


def hand_off(conv: Conversation, reason: str, *, text: str | None, at: int | None = None) -> bool:
    """Hand one conversation off outside a bot turn (the bot was turned off): the customer is
    told with `text`. False when the bot no longer has it (an agent took it meanwhile)."""
    from kefu.conversations.replies import (
        outgoing_actions,
        outgoing_message,
        reply_created_event,
    )

    at = at if at is not None else now_ms()
    state = dict(conv.bot_state or {})
    intent = state.get("intent")
    question = last_question(state)
    if text:
        remember(state, "bot", text, at)
    handoff = record(reason, intent, state, at)
    changes = actions(conv, handoff, at)
    msg = None
    if text:
        msg = outgoing_message(
            conv, "text", {"text": text}, sender_type="bot", sender_id="bot", at=at
        )
        changes += outgoing_actions("text", {"text": text}, at)
    else:
        changes.append(Conversation.last_activity_at.set(at))
    changes.append(Conversation.bot_state.set(state))
    try:
        with write_transaction() as tx:
            if msg is not None:
                tx.save(msg)
            tx.update(conv, changes, condition=Conversation.status == "bot")
    except TransactWriteError:
        return False
    published = [event(conv, handoff, question)]
    if msg is not None:
        published.insert(0, reply_created_event(conv, msg))
    events.publish(*published)
    return True


def release_all(shop_id: str, text: str | None) -> int:
    """The bot was turned off: every conversation it still has goes to people (reason
    "disabled"). One Query of the shop's `bot` status range; bounded per call, and a
    conversation left over is handed off by the bot turn on the customer's next message."""
    released = 0
    for conv in Conversation.by_status.query(status_key(shop_id, "bot"), limit=RELEASE_LIMIT):
        if released >= RELEASE_LIMIT:
            break
        if hand_off(conv, "disabled", text=text):
            released += 1
    log.info("bot turned off: conversations handed off", extra={"count": released})
    return released
