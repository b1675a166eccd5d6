"""SLA targets and clocks for tickets.

Targets are per priority, in business minutes of the shop's calendar (WorkbenchTable
`SLA#<priority>`, `CALENDAR#default`; defaults below when the shop has set none).

Clock rules (docs/tickets.md):
- first response due = created_at + first-response minutes (business); met by the first public
  comment or status change by staff.
- resolution due = created_at + resolution minutes + paused minutes (business). The clock stops
  while the ticket is pending, resolved or closed (`paused_at`); when it runs again the business
  minutes it was stopped are added to `paused_minutes` and the due moment is recomputed.
- a staff priority change recomputes both targets from created_at (the sweep's escalation does
  not: it is a call for attention, not a new promise).
- `next_due_at` is the earliest deadline that still runs and is not yet breached; absent
  otherwise, so the sparse `sla_open` index holds only tickets whose clock runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from kefu.tickets.calendar import (
    DEFAULT_CALENDAR,
    BusinessCalendar,
    add_business_minutes_ms,
    business_minutes_between_ms,
    from_document,
)

RUNNING = ("new", "open")
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"


@dataclass(frozen=True)
class Target:
    first_response_minutes: int
    resolution_minutes: int


DEFAULT_TARGETS = {
    "urgent": Target(30, 4 * 60),
    "high": Target(60, 8 * 60),
    "normal": Target(4 * 60, 3 * 9 * 60),
    "low": Target(8 * 60, 5 * 9 * 60),
}

# ---- request bodies ----------------------------------------------------------------------

HoursRange = Annotated[
    str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
]
IsoDate = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=525_600)]
DayHours = Annotated[list[HoursRange], msgspec.Meta(max_length=8)]


class WeeklyHours(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mon: DayHours = []
    tue: DayHours = []
    wed: DayHours = []
    thu: DayHours = []
    fri: DayHours = []
    sat: DayHours = []
    sun: DayHours = []


class CalendarBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "Asia/Shanghai"
    weekly: WeeklyHours
    holidays: Annotated[list[IsoDate], msgspec.Meta(max_length=400)] = []
    workdays: Annotated[list[IsoDate], msgspec.Meta(max_length=100)] = []
    workday_hours: DayHours | None = None


class SlaTarget(msgspec.Struct, forbid_unknown_fields=True):
    first_response_minutes: Minutes
    resolution_minutes: Minutes


class SlaPoliciesBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    low: SlaTarget
    normal: SlaTarget
    high: SlaTarget
    urgent: SlaTarget


# ---- the clocks (pure) -----------------------------------------------------------------------


def breached_kinds(breaches: list[dict] | None) -> set[str]:
    return {b["kind"] for b in breaches or ()}


def due_dates(created_at: int, target: Target, paused_minutes: int, cal: BusinessCalendar) -> dict:
    return {
        "first_response_due_at": add_business_minutes_ms(
            created_at, target.first_response_minutes, cal
        ),
        "resolution_due_at": add_business_minutes_ms(
            created_at, target.resolution_minutes + paused_minutes, cal
        ),
    }


def next_due(state: dict[str, Any]) -> int | None:
    """The earliest running, unbreached deadline of a ticket's clock state, or None."""
    done = breached_kinds(state.get("breaches"))
    candidates = []
    if (
        state.get("first_response_at") is None
        and state.get("first_response_due_at") is not None
        and FIRST_RESPONSE not in done
    ):
        candidates.append(state["first_response_due_at"])
    if (
        state.get("status") in RUNNING
        and state.get("paused_at") is None
        and state.get("resolution_due_at") is not None
        and RESOLUTION not in done
    ):
        candidates.append(state["resolution_due_at"])
    return min(candidates) if candidates else None


def on_status_change(
    state: dict[str, Any], new_status: str, now: int, cal: BusinessCalendar
) -> dict[str, Any]:
    """The clock fields that change when a ticket moves to `new_status` at `now`."""
    changes: dict[str, Any] = {}
    running_before = state.get("paused_at") is None and state.get("status") in RUNNING
    if new_status in RUNNING and not running_before and state.get("paused_at") is not None:
        paused = (state.get("paused_minutes") or 0) + business_minutes_between_ms(
            state["paused_at"], now, cal
        )
        changes["paused_minutes"] = paused
        changes["paused_at"] = None
        if state.get("resolution_minutes") is not None:
            changes["resolution_due_at"] = add_business_minutes_ms(
                state["created_at"], int(state["resolution_minutes"]) + paused, cal
            )
    elif new_status not in RUNNING and running_before:
        changes["paused_at"] = now
    return changes


def breaches_due(state: dict[str, Any], now: int) -> list[dict]:
    """The breaches to record now: deadlines passed, still running, not yet recorded."""
    done = breached_kinds(state.get("breaches"))
    found = []
    fr_due = state.get("first_response_due_at")
    if (
        state.get("first_response_at") is None
        and fr_due is not None
        and fr_due <= now
        and FIRST_RESPONSE not in done
    ):
        found.append({"kind": FIRST_RESPONSE, "due_at": fr_due, "at": now})
    res_due = state.get("resolution_due_at")
    if (
        state.get("status") in RUNNING
        and state.get("paused_at") is None
        and res_due is not None
        and res_due <= now
        and RESOLUTION not in done
    ):
        found.append({"kind": RESOLUTION, "due_at": res_due, "at": now})
    return found


# ---- stored configuration ---------------------------------------------------------------------


def load_calendar(shop_id: str) -> BusinessCalendar:
    from kefu.storage.workbench import SlaCalendar

    try:
        item = SlaCalendar.get(shop_id, SlaCalendar.key())
    except SlaCalendar.DoesNotExist:
        return DEFAULT_CALENDAR
    return from_document(item.calendar)


def load_target(shop_id: str, priority: str) -> Target:
    from kefu.storage.workbench import SlaPolicy

    try:
        item = SlaPolicy.get(shop_id, SlaPolicy.key(priority))
    except SlaPolicy.DoesNotExist:
        return DEFAULT_TARGETS[priority]
    return Target(int(item.first_response_minutes), int(item.resolution_minutes))


def load_targets(shop_id: str) -> dict[str, Target]:
    from kefu.storage.workbench import SlaPolicy

    found = dict(DEFAULT_TARGETS)
    for item in SlaPolicy.query(shop_id, SlaPolicy.sk.startswith("SLA#")):
        found[item.priority] = Target(
            int(item.first_response_minutes), int(item.resolution_minutes)
        )
    return found
