"""What a bot turn writes (kefu.bot.turn): the plan in ONE TransactWriteItems, its events
published after; a redelivered turn's events re-published; an off-hours message on a ticket."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu.auth.actors import BotActor
from kefu.bot import handoff as handoffs
from kefu.bot.plan import Plan
from kefu.bot.snapshot import Snapshot
from kefu.events_catalog import BotReplied, MessageReceived
from kefu.storage.bot import TURN_TTL_SECONDS, BotTurn
from kefu.storage.conversations import Conversation
from kefu.storage.tx import condition_failed, old_item, write_transaction


def _event_doc(e: events.DomainEvent) -> dict[str, Any]:
    return {
        "type": e.type,
        "event_id": e.event_id,
        "data": msgspec.to_builtins(e.data),
        "occurred_at": e.occurred_at,
    }


def republish(shop_id: str, docs: list[dict[str, Any]]) -> None:
    if docs:
        events.publish(*(events.from_doc(shop_id, d) for d in docs))


def record_ticket(shop_id: str, conv: Conversation, text: str, side: dict[str, Any]) -> bool:
    """An off-hours message on the conversation's ticket: the ticket is created from the
    conversation once (its last messages as context), later messages are comments. Done once
    per turn however often the turn is re-planned. True when a ticket was created now."""
    from kefu.tickets import service as tickets

    if side.get("ticket_done"):
        return bool(side.get("created"))
    actor = BotActor(shop_id)
    ticket_id = (conv.bot_state or {}).get("ticket_id")
    body = text or "[非文字消息]"
    if ticket_id:
        tickets.add_comment(actor, ticket_id, tickets.NewComment(body=body[:2000]))
    else:
        created = tickets.create_from_conversation(
            actor,
            conv.conversation_id,
            tickets.ConversationTicket(subject=f"非工作时间留言：{body[:60]}", type="inquiry"),
        )
        side["ticket_id"] = created["ticket_id"]
        side["created"] = True
    side["ticket_done"] = True
    return bool(side.get("created"))


def commit(shop_id: str, data: MessageReceived, snap: Snapshot, plan: Plan) -> str:
    """One TransactWriteItems. Returns done | duplicate | taken | stale."""
    from kefu.conversations.replies import (
        outgoing_actions,
        outgoing_message,
        reply_created_event,
    )

    conv = snap.conv
    assert conv is not None
    at = plan.at
    inbound = data.message_id
    msgs = [
        outgoing_message(
            conv,
            r["type"],
            r["content"],
            sender_type="bot",
            sender_id="bot",
            at=at + i,
            message_id=f"{inbound}b{i}",
        )
        for i, r in enumerate(plan.replies)
    ]
    published = [reply_created_event(conv, m) for m in msgs]
    if plan.handoff is not None:
        published.append(handoffs.event(conv, plan.handoff, plan.question))
    if msgs:
        published.append(
            events.DomainEvent(
                BotReplied(
                    conversation_id=conv.conversation_id,
                    message_id=inbound,
                    outcome=plan.outcome,
                    entry_id=plan.entry_id,
                    scope=plan.scope,
                    rule_id=plan.rule_id,
                    score=round(float(plan.score), 4) if plan.score is not None else None,
                    handoff_reason=plan.handoff["reason"] if plan.handoff else None,
                ),
                shop_id,
                f"{events.BOT_REPLIED}:{inbound}",
                occurred_at=at,
            )
        )
    rev = int(conv.bot_rev or 0)
    actions = [Conversation.bot_state.set(plan.state), Conversation.bot_rev.set(rev + 1)]
    if msgs:
        last = plan.replies[-1]
        actions += outgoing_actions(
            last["type"], last["content"], at + len(msgs) - 1, count=len(msgs)
        )
    if plan.handoff is not None:
        actions += handoffs.actions(conv, plan.handoff, at)
    guard = (Conversation.status == plan.expected_status) & (
        Conversation.bot_rev == rev if rev else Conversation.bot_rev.does_not_exist()
    )
    turn = BotTurn(
        BotTurn.key(shop_id, inbound),
        conversation_id=conv.conversation_id,
        outcome=plan.outcome,
        events=[_event_doc(e) for e in published],
        at=at,
        expires_at=at // 1000 + TURN_TTL_SECONDS,
    )
    tx = write_transaction()
    try:
        with tx:
            tx.save(turn, condition=BotTurn.pk.does_not_exist(), return_values="ALL_OLD")
            for m in msgs:
                tx.save(m)
            if plan.misses:
                from kefu.bot.learning import record_miss

                for miss in plan.misses:
                    record_miss(tx, shop_id, **miss)
            tx.update(conv, actions, condition=guard, return_values="ALL_OLD")
            if plan.hit is not None:
                from kefu.knowledge.published import add_hit

                add_hit(tx, plan.hit[0], plan.hit[1], at)
            if plan.rule_id:
                from kefu.bot.keyword_rules_matcher import add_hit as add_rule_hit

                add_rule_hit(tx, shop_id, plan.rule_id, at)
            if plan.feedback is not None:
                from kefu.knowledge.published import add_feedback

                add_feedback(tx, plan.feedback[0], plan.feedback[1], plan.feedback[2])
    except TransactWriteError as exc:
        # The turn item is the first put, the conversation the first update.
        first_put, conv_index = tx.put_index(0), tx.update_index(0)
        if condition_failed(exc, first_put):
            raw = old_item(exc, first_put) or {}
            republish(shop_id, json.loads(raw.get("events", {}).get("S") or "[]"))
            return "duplicate"
        if condition_failed(exc, conv_index):
            status = (old_item(exc, conv_index) or {}).get("status", {}).get("S")
            return "stale" if status == plan.expected_status else "taken"
        if any(
            r is not None and r.code == "TransactionConflict"
            for r in exc.cancellation_reasons or []
        ):
            return "stale"
        raise
    events.publish(*published)
    return "done"
