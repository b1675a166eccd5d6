"""The SLA sweep (scheduled every 5 minutes): finds tickets whose next deadline passed and
records each breach once.

Per shop (the shop registry index) one Query on the sparse `sla_open` index for
next_due_at <= now: the cost follows the breaches to record, not the number of tickets. For each
breach: a history item and an entry in `breaches` (once per kind: the ticket's version guards
the write), the priority one step up (never above urgent), `ticket.sla_breached`, and
next_due_at moved to the next running deadline (or removed, which drops the ticket from the
index).
"""

from __future__ import annotations

import logging

from kefu import events
from kefu import events_catalog as contracts
from kefu.errors import Conflict
from kefu.ids import now_ms
from kefu.storage.shops import ShopProfile
from kefu.storage.tickets import PRIORITIES, Ticket
from kefu.tickets import sla
from kefu.tickets.service import clock_state, write_change

log = logging.getLogger("kefu.tickets.sweep")
BATCH = 100
SYSTEM_ACTOR = "system:sla"


def raise_priority(priority: str) -> str:
    i = PRIORITIES.index(priority)
    return PRIORITIES[min(i + 1, len(PRIORITIES) - 1)]


def sweep(now: int | None = None) -> int:
    """Record the breaches due by `now` in every shop; returns how many were recorded."""
    now = now if now is not None else now_ms()
    recorded = 0
    for shop in ShopProfile.shop_registry.query("shops"):
        recorded += sweep_shop(shop.shop_id, now)
    return recorded


def sweep_shop(shop_id: str, now: int) -> int:
    recorded = 0
    for t in Ticket.sla_open.query(shop_id, Ticket.next_due_at <= now, limit=BATCH):
        try:
            recorded += record_breaches(t, now)
        except Conflict:
            log.info("ticket changed during the sweep; next sweep", extra={"ticket": t.ticket_id})
    return recorded


def record_breaches(t: Ticket, now: int) -> int:
    state = clock_state(t)
    found = sla.breaches_due(state, now)
    if not found:
        # Stale index entry (e.g. the deadline stopped running): just move next_due_at on.
        if sla.next_due(state) != t.next_due_at:
            write_change(t, {}, [], actor=SYSTEM_ACTOR, at=now)
        return 0
    before_priority = t.priority
    priority = before_priority
    history = []
    for breach in found:
        history.append({"kind": "breach", "field": breach["kind"], "before": None, "after": breach})
        priority = raise_priority(priority)
    updates: dict = {"breaches": [*(t.breaches or []), *found]}
    if priority != before_priority:
        updates["priority"] = priority
        history.append(
            {"kind": "change", "field": "priority", "before": before_priority, "after": priority}
        )
    # Announce first, with ids fixed per ticket and kind: if the write then fails, the next sweep
    # announces again with the same id and consumers drop the repeat; nothing is lost.
    events.publish(
        *(
            events.DomainEvent(
                contracts.TicketSlaBreached(
                    ticket_id=t.ticket_id,
                    short_id=t.short_id,
                    subject=t.subject,
                    kind=b["kind"],
                    due_at=b["due_at"],
                    priority=priority,
                    previous_priority=before_priority,
                    assignee=t.assignee,
                    department=t.department,
                    customer_id=t.customer_id,
                ),
                t.shop_id,
                f"{events.TICKET_SLA_BREACHED}:{t.ticket_id}:{b['kind']}",
                occurred_at=now,
            )
            for b in found
        )
    )
    write_change(t, updates, history, actor=SYSTEM_ACTOR, at=now)
    return len(found)
