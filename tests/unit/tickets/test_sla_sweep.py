"""Specification: the SLA sweep records each breach once (history + breaches), raises the
priority one step (never above urgent), announces `ticket.sla_breached`, and moves next_due_at
to the next running deadline or drops the ticket from the sla_open index."""

from kefu.storage.tickets import Ticket, ticket_sk
from kefu.tickets import service
from kefu.tickets.service import NewTicket, TicketChange
from kefu.tickets.sweep import raise_priority, sweep

from tests.unit.tickets.conftest import sh_ms


def _new(actor, priority="urgent"):
    return service.create_ticket(actor, NewTicket(subject="s", priority=priority))["ticket_id"]


def test_a_first_response_breach_is_recorded_once_and_escalates(shop, clock, kefu_env):
    tid = _new(shop["sup"], priority="high")  # first response due Monday 10:00
    clock.set(sh_ms(2024, 11, 25, 9, 59))
    assert sweep(clock.now) == 0
    clock.set(sh_ms(2024, 11, 25, 10, 5))
    assert sweep(clock.now) == 1
    assert sweep(clock.now) == 0  # once
    t = service.get_ticket(shop["sup"], tid)
    assert t["priority"] == "urgent"
    assert [b["kind"] for b in t["sla"]["breaches"]] == ["first_response"]
    # The next deadline is the resolution (high: 480 business minutes -> Monday 17:00).
    assert t["sla"]["next_due_at"] == t["sla"]["resolution_due_at"] == sh_ms(2024, 11, 25, 17)
    kinds = [(h["kind"], h["field"]) for h in t["history"]]
    assert ("breach", "first_response") in kinds and ("change", "priority") in kinds
    (event,) = kefu_env.events("ticket.sla_breached")
    assert event["data"]["kind"] == "first_response"
    assert (event["data"]["previous_priority"], event["data"]["priority"]) == ("high", "urgent")
    assert event["event_id"] == f"ticket.sla_breached:{tid}:first_response"


def test_both_deadlines_passed_are_two_breaches_and_the_ticket_leaves_the_index(
    shop, clock, kefu_env
):
    tid = _new(shop["sup"], priority="urgent")
    clock.set(sh_ms(2024, 11, 26, 9))
    assert sweep(clock.now) == 2
    t = Ticket.get("shop-a", ticket_sk(tid))
    assert t.priority == "urgent"  # not above urgent
    assert t.next_due_at is None and t.shop_sla is None
    assert list(Ticket.sla_open.query("shop-a")) == []
    assert len(kefu_env.events("ticket.sla_breached")) == 2


def test_answered_and_paused_tickets_do_not_breach(shop, clock):
    answered = _new(shop["sup"], priority="urgent")
    clock.set(sh_ms(2024, 11, 25, 9))
    service.update_ticket(shop["sup"], answered, TicketChange(status="pending"))
    clock.set(sh_ms(2024, 11, 27, 9))
    assert sweep(clock.now) == 0


def test_the_sweep_visits_every_shop(shop, clock):
    _new(shop["sup"])
    _new(shop["other"])
    clock.set(sh_ms(2024, 11, 25, 9, 45))
    assert sweep(clock.now) == 2


def test_raise_priority_stops_at_urgent():
    assert [raise_priority(p) for p in ("low", "normal", "high", "urgent")] == [
        "normal",
        "high",
        "urgent",
        "urgent",
    ]
