"""The shop's SLA settings: its business-hours calendar and the targets per priority
(WorkbenchTable CALENDAR#default and SLA#<priority>). Supervisors read and replace them; every
replacement is written with its audit record in one transaction."""

from __future__ import annotations

from zoneinfo import ZoneInfoNotFoundError

from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest
from kefu.ids import now_ms
from kefu.storage.tickets import PRIORITIES
from kefu.storage.tx import write_transaction
from kefu.storage.workbench import SlaCalendar, SlaPolicy
from kefu.tickets import calendar, sla


def get_calendar(actor: StaffActor) -> dict:
    p.require(actor, p.TICKETS_SLA_MANAGE)
    return calendar.to_document(sla.load_calendar(actor.shop_id))


def put_calendar(actor: StaffActor, body: sla.CalendarBody) -> dict:
    p.require(actor, p.TICKETS_SLA_MANAGE)
    doc = {
        "timezone": body.timezone,
        "weekly": {day: list(getattr(body.weekly, day)) for day in calendar.WEEKDAYS},
        "holidays": sorted(set(body.holidays)),
        "workdays": sorted(set(body.workdays)),
        "workday_hours": list(body.workday_hours) if body.workday_hours is not None else None,
    }
    try:
        cal = calendar.from_document(doc)
        cal.tz  # noqa: B018 - resolves the zone name
    except (ZoneInfoNotFoundError, ValueError, KeyError) as exc:
        raise BadRequest(f"invalid calendar: {exc}", code="invalid_calendar") from None
    if cal.holidays & cal.workdays:
        both = ", ".join(sorted(d.isoformat() for d in cal.holidays & cal.workdays))
        raise BadRequest(
            f"{both}: both a holiday and a make-up working day", code="invalid_calendar"
        )
    if not cal.opens_ever():
        raise BadRequest("the calendar has no working hours", code="invalid_calendar")
    doc = calendar.to_document(cal)
    at = now_ms()
    before = calendar.to_document(sla.load_calendar(actor.shop_id))
    with write_transaction() as tx:
        tx.save(
            SlaCalendar(
                actor.shop_id,
                SlaCalendar.key(),
                calendar=doc,
                updated_at=at,
                updated_by=actor.username,
            )
        )
        tx.save(_audit(actor, "sla.calendar_changed", "calendar", before, doc, at))
    return doc


def _targets_doc(targets: dict[str, sla.Target]) -> dict:
    return {
        priority: {
            "first_response_minutes": targets[priority].first_response_minutes,
            "resolution_minutes": targets[priority].resolution_minutes,
        }
        for priority in PRIORITIES
    }


def get_policies(actor: StaffActor) -> dict:
    p.require(actor, p.TICKETS_SLA_MANAGE)
    return _targets_doc(sla.load_targets(actor.shop_id))


def put_policies(actor: StaffActor, body: sla.SlaPoliciesBody) -> dict:
    """Replace the four targets. They apply to tickets created (or re-prioritised) from now on."""
    p.require(actor, p.TICKETS_SLA_MANAGE)
    at = now_ms()
    before = _targets_doc(sla.load_targets(actor.shop_id))
    after = {}
    with write_transaction() as tx:
        for priority in PRIORITIES:
            target = getattr(body, priority)
            if target.first_response_minutes > target.resolution_minutes:
                raise BadRequest(
                    f"{priority}: first response cannot be due after resolution",
                    code="invalid_policy",
                )
            after[priority] = {
                "first_response_minutes": target.first_response_minutes,
                "resolution_minutes": target.resolution_minutes,
            }
            tx.save(
                SlaPolicy(
                    actor.shop_id,
                    SlaPolicy.key(priority),
                    priority=priority,
                    updated_at=at,
                    updated_by=actor.username,
                    **after[priority],
                )
            )
        tx.save(_audit(actor, "sla.policies_changed", "policies", before, after, at))
    return after


_audit = StaffChanges("sla")
