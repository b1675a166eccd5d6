"""The bot turn: what the bot does with one `message.received` (docs/bot.md).

Reads, in ONE BatchGetItem: the conversation (strongly consistent), the customer, the knowledge-
base heads of the shop and of its mall's platform entries (none outside a mall), the bot
settings, the keyword-rules head, the shop's business-hours calendar and this turn's
de-duplication item. The published indexes, the compiled
rules, the compiled settings and the entries answered from are cached in the instance per
version/revision, so a warm turn then writes ONE TransactWriteItems: the de-duplication item,
the bot's reply messages, the misses, the conversation (bot_state, and the hand-off when there is
one) guarded by its status still being "bot" and its bot_rev, and the counters.

The turn is read (kefu.bot.snapshot), planned (kefu.bot.planner, over kefu.bot.plan) and
written (kefu.bot.commit); this module runs the three and re-plans a turn that lost a race.

In order:
  a) not with the bot: silent, except off-hours (queued or assigned): offer once to leave a
     message; the customer's next messages are recorded on a ticket (created once, then comments)
  b) hand-off triggers: asked for a person (phrase or {"action": "handoff"}), anger/complaint
     words, a VIP tier
  c) a choice from the previous suggestion ("2", or its text)
  d) the previous answer rejected ("没用", "答非所问" ...): feedback, a miss, then the other
     candidates or a person; thanks after an answer: feedback
  e) a keyword rule (kefu.bot.keyword_rules) -> its replies, with variables
  f) the customer's orders (kefu.bot.order_answers): where is my parcel, when does it ship, refund
  g) the knowledge base: answer, suggest up to 3, or (low confidence) hand off / apologise

Idempotent: the de-duplication item (RuntimeTable BOTTURN#<shop>#<message id>) is a conditional
put in the turn's transaction; a redelivered event finds it in the BatchGetItem and re-publishes
the turn's events (same ids) instead of doing the turn again. If an agent claims the conversation
while the turn runs, the guard fails and nothing is sent.
"""

from __future__ import annotations

from typing import Any

from kefu import events
from kefu.bot.commit import commit, record_ticket, republish
from kefu.bot.planner import Planner
from kefu.bot.snapshot import read
from kefu.events_catalog import MessageReceived
from kefu.ids import now_ms

MAX_ATTEMPTS = 3  # turns of one conversation racing: re-read and plan again


def handle(detail: dict[str, Any] | events.Event) -> dict[str, Any]:
    """One `message.received`. Returns what to log about the outcome."""
    event = events.decode(detail)
    if not isinstance(event.data, MessageReceived):
        return {"skipped": event.type}
    shop_id, data = event.shop_id, event.data
    side: dict[str, Any] = {}  # side effects already done (the off-hours ticket)
    for _ in range(MAX_ATTEMPTS):
        snap = read(shop_id, data.conversation_id, data.customer_id or "", data.message_id)
        if snap.done is not None:
            republish(shop_id, snap.done.events or [])
            return {"duplicate": True, "outcome": snap.done.outcome}
        if snap.conv is None:
            return {"skipped": "no conversation"}
        at = max(now_ms(), int(event.occurred_at or 0) + 1)
        planner = Planner(shop_id, data, snap, at)
        plan = planner.run()
        if plan is None:
            return {"skipped": snap.conv.status}
        if plan.outcome == "message_recorded":
            if record_ticket(shop_id, snap.conv, planner.text, side):
                planner.say(planner.settings.texts["recorded_text"])
            plan.state["ticket_id"] = side.get("ticket_id") or plan.state.get("ticket_id")
        result = commit(shop_id, data, snap, plan)
        if result == "stale":
            continue
        if result == "taken":
            return {"skipped": "taken over meanwhile", "outcome": plan.outcome}
        return {
            "outcome": plan.outcome,
            "duplicate": result == "duplicate",
            "replies": len(plan.replies),
            "handoff": plan.handoff["reason"] if plan.handoff else None,
        }
    raise RuntimeError("the conversation's bot state kept changing: the event comes back")
