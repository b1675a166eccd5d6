"""Specification: SLA clocks — due dates from the policy of the ticket's priority over the shop's
calendar; the first response met by a public comment or a status change; the resolution clock
paused while pending (its paused business minutes push the due date on resume); the SLA
settings replaced by supervisors, audited."""

import pytest
from kefu.audit import list_audit
from kefu.errors import BadRequest
from kefu.tickets import service, settings, sla
from kefu.tickets.calendar import BusinessCalendar
from kefu.tickets.service import NewTicket, TicketChange

from tests.unit.tickets.conftest import FRIDAY_19, sh_ms


def _new(actor, priority="urgent"):
    return service.create_ticket(actor, NewTicket(subject="s", priority=priority))


def test_a_status_change_by_staff_is_the_first_response(shop, clock):
    tid = _new(shop["sup"])["ticket_id"]
    clock.set(sh_ms(2024, 11, 25, 9, 10))
    t = service.update_ticket(shop["sup"], tid, TicketChange(status="open"))
    assert t["sla"]["first_response_at"] == sh_ms(2024, 11, 25, 9, 10)
    assert t["sla"]["next_due_at"] == t["sla"]["resolution_due_at"] == sh_ms(2024, 11, 25, 13)


def test_pending_pauses_the_resolution_clock_and_resume_pushes_the_due_date(shop, clock):
    tid = _new(shop["sup"])["ticket_id"]  # urgent: resolution due Monday 13:00
    clock.set(sh_ms(2024, 11, 25, 10))
    paused = service.update_ticket(shop["sup"], tid, TicketChange(status="pending"))
    assert paused["sla"]["paused_at"] == sh_ms(2024, 11, 25, 10)
    assert paused["sla"]["next_due_at"] is None  # off the sla_open index: nothing runs
    # Back on Tuesday 10:00: paused 8 h Monday + 1 h Tuesday = 540 business minutes.
    clock.set(sh_ms(2024, 11, 26, 10))
    resumed = service.update_ticket(shop["sup"], tid, TicketChange(status="open"))
    assert resumed["sla"]["paused_minutes"] == 540
    assert resumed["sla"]["paused_at"] is None
    # 240 + 540 business minutes from Friday 19:00 = Tuesday 13:00.
    assert resumed["sla"]["resolution_due_at"] == sh_ms(2024, 11, 26, 13)
    assert resumed["sla"]["next_due_at"] == sh_ms(2024, 11, 26, 13)


def test_resolved_stops_the_clock_and_reopening_counts_the_resolved_time_as_paused(shop, clock):
    tid = _new(shop["sup"])["ticket_id"]
    clock.set(sh_ms(2024, 11, 25, 11))
    t = service.update_ticket(shop["sup"], tid, TicketChange(status="resolved"))
    assert t["sla"]["next_due_at"] is None
    clock.set(sh_ms(2024, 11, 25, 12))
    t = service.update_ticket(shop["sup"], tid, TicketChange(status="open"))
    assert t["sla"]["paused_minutes"] == 60
    assert t["sla"]["resolution_due_at"] == sh_ms(2024, 11, 25, 14)


def test_the_shops_calendar_and_policies_apply(shop, clock):
    settings.put_calendar(
        shop["sup"],
        sla.CalendarBody(
            weekly=sla.WeeklyHours(mon=["10:00-12:00"], tue=["10:00-12:00"]),
            holidays=["2024-11-25"],
        ),
    )
    targets = {"first_response_minutes": 30, "resolution_minutes": 60}
    settings.put_policies(
        shop["sup"],
        sla.SlaPoliciesBody(
            **{p: sla.SlaTarget(**targets) for p in ("low", "normal", "high", "urgent")}
        ),
    )
    t = _new(shop["sup"], priority="normal")
    # Monday is a holiday; Tuesday 10:00-12:00.
    assert t["sla"]["first_response_due_at"] == sh_ms(2024, 11, 26, 10, 30)
    assert t["sla"]["resolution_due_at"] == sh_ms(2024, 11, 26, 11)
    assert settings.get_calendar(shop["sup"])["holidays"] == ["2024-11-25"]
    assert settings.get_policies(shop["sup"])["low"] == targets
    actions = [r["action"] for r in list_audit("shop-a")[0]]
    assert "sla.calendar_changed" in actions and "sla.policies_changed" in actions


def test_defaults_without_settings(shop):
    assert settings.get_calendar(shop["sup"])["weekly"]["mon"] == ["09:00-18:00"]
    assert settings.get_policies(shop["sup"])["urgent"] == {
        "first_response_minutes": 30,
        "resolution_minutes": 240,
    }


@pytest.mark.parametrize(
    "body",
    [
        sla.CalendarBody(weekly=sla.WeeklyHours(mon=["09:00-12:00", "11:00-13:00"])),
        sla.CalendarBody(weekly=sla.WeeklyHours()),
        sla.CalendarBody(weekly=sla.WeeklyHours(mon=["09:00-18:00"]), timezone="Mars/Olympus"),
        sla.CalendarBody(
            weekly=sla.WeeklyHours(mon=["09:00-18:00"]),
            holidays=["2024-10-12"],
            workdays=["2024-10-12"],
        ),
    ],
    ids=["overlap", "never-open", "unknown-zone", "holiday-and-workday"],
)
def test_invalid_calendars_are_refused(shop, body):
    with pytest.raises(BadRequest):
        settings.put_calendar(shop["sup"], body)


def test_next_due_is_the_earliest_running_unbreached_deadline():
    state = {
        "status": "open",
        "first_response_at": None,
        "first_response_due_at": 100,
        "resolution_due_at": 200,
        "paused_at": None,
        "breaches": [],
    }
    assert sla.next_due(state) == 100
    assert sla.next_due({**state, "breaches": [{"kind": "first_response"}]}) == 200
    assert (
        sla.next_due({**state, "first_response_at": 50, "status": "pending", "paused_at": 60})
        is None
    )


def test_on_status_change_is_pure():
    cal = BusinessCalendar()
    state = {
        "status": "open",
        "created_at": FRIDAY_19,
        "paused_at": None,
        "resolution_minutes": 240,
    }
    assert sla.on_status_change(state, "pending", 1, cal) == {"paused_at": 1}
    assert sla.on_status_change(state, "open", 1, cal) == {}
