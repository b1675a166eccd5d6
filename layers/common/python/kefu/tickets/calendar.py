"""Business-hours calendars and business-minute arithmetic (pure: no I/O).

A calendar is a timezone, opening hours per weekday, holidays (dates that do not work even if
their weekday normally does) and make-up working days (调休: dates that work even if their
weekday normally does not, with `workday_hours`, by default Monday's hours). Wall-clock times
are read in the calendar's timezone, so "09:00" means 09:00 in Shanghai whatever the server's
clock says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

Interval = tuple[int, int]  # minutes after midnight, [start, end)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # how far the arithmetic walks before deciding the calendar never opens
NINE_TO_SIX: tuple[Interval, ...] = ((9 * 60, 18 * 60),)


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "Asia/Shanghai"
    # weekday (0 = Monday) -> opening intervals, sorted and non-overlapping
    weekly: Mapping[int, tuple[Interval, ...]] = field(
        default_factory=lambda: {d: NINE_TO_SIX for d in range(5)}
    )
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days (调休)
    workday_hours: tuple[Interval, ...] | None = None  # hours on make-up days; None: Monday's

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.workday_hours if self.workday_hours is not None else self._monday()
        return tuple(self.weekly.get(day.weekday(), ()))

    def _monday(self) -> tuple[Interval, ...]:
        # Make-up days work like a regular weekday; Monday's hours, or the first weekday's.
        for d in range(7):
            if self.weekly.get(d):
                return tuple(self.weekly[d])
        return NINE_TO_SIX

    def opens_ever(self) -> bool:
        return any(self.weekly.get(d) for d in range(7)) or bool(self.workdays)


def _local(moment: datetime, cal: BusinessCalendar) -> datetime:
    """`moment` in the calendar's timezone; a naive datetime is taken as already local."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=cal.tz)
    return moment.astimezone(cal.tz)


def _at(day: date, minute: int, cal: BusinessCalendar) -> datetime:
    # Wall-clock in the calendar zone; minute 1440 is the next midnight.
    return datetime(day.year, day.month, day.day, tzinfo=cal.tz) + timedelta(minutes=minute)


def _days(start: date) -> Iterable[date]:
    for offset in range(MAX_DAYS):
        yield start + timedelta(days=offset)


def add_business_minutes(start: datetime, minutes: int, cal: BusinessCalendar) -> datetime:
    """The moment `minutes` business minutes after `start` (in the calendar's timezone).

    Time outside opening hours does not count: Friday 19:00 + 240 business minutes against
    Mon–Fri 09:00–18:00 is Monday 13:00. Zero minutes is `start` itself.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    local = _local(start, cal)
    if minutes == 0:
        return local
    if not cal.opens_ever():
        raise ValueError("the calendar has no working hours")
    remaining = timedelta(minutes=minutes)
    for day in _days(local.date()):
        for begin, end in cal.intervals_on(day):
            lo, hi = _at(day, begin, cal), _at(day, end, cal)
            lo = max(lo, local)
            if hi <= lo:
                continue
            if hi - lo >= remaining:
                return lo + remaining
            remaining -= hi - lo
    raise ValueError(f"no {minutes} business minutes within {MAX_DAYS} days of {start}")


def business_minutes_between(a: datetime, b: datetime, cal: BusinessCalendar) -> int:
    """Whole business minutes from a to b (0 when b is not after a)."""
    a, b = _local(a, cal), _local(b, cal)
    if b <= a:
        return 0
    total = timedelta()
    day = a.date()
    while day <= b.date():
        for begin, end in cal.intervals_on(day):
            lo = max(_at(day, begin, cal), a)
            hi = min(_at(day, end, cal), b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds() // 60)


# ---- epoch-millisecond helpers (what the tickets store) -------------------------------------


def from_ms(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def is_open_ms(at_ms: int, cal: BusinessCalendar) -> bool:
    """Whether the moment falls in the calendar's opening hours (holidays and 调休 included)."""
    local = from_ms(at_ms).astimezone(cal.tz)
    minute = local.hour * 60 + local.minute
    return any(lo <= minute < hi for lo, hi in cal.intervals_on(local.date()))


def add_business_minutes_ms(start_ms: int, minutes: int, cal: BusinessCalendar) -> int:
    return to_ms(add_business_minutes(from_ms(start_ms), minutes, cal))


def business_minutes_between_ms(a_ms: int, b_ms: int, cal: BusinessCalendar) -> int:
    return business_minutes_between(from_ms(a_ms), from_ms(b_ms), cal)


# ---- the stored / HTTP shape ---------------------------------------------------------------


def parse_range(text: str) -> Interval:
    """ "09:00-18:00" -> (540, 1080); "24:00" is allowed as an end."""
    start, _, end = text.partition("-")
    lo, hi = _minute(start), _minute(end)
    if not lo < hi:
        raise ValueError(f"{text!r}: the end must be after the start")
    return lo, hi


def _minute(hhmm: str) -> int:
    hours, _, minutes = hhmm.strip().partition(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60 or int(minutes) >= 60:
        raise ValueError(f"{hhmm!r} is not a time of day")
    return value


def format_range(interval: Interval) -> str:
    (h1, m1), (h2, m2) = divmod(interval[0], 60), divmod(interval[1], 60)
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def normalise(ranges: Iterable[str]) -> tuple[Interval, ...]:
    intervals = sorted(parse_range(r) for r in ranges)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        if start < end:
            raise ValueError("opening hours of one day overlap")
    return tuple(intervals)


def from_document(doc: Mapping) -> BusinessCalendar:
    """The stored/HTTP form {"timezone", "weekly": {"mon": ["09:00-18:00"], ...}, "holidays":
    ["2025-10-01"], "workdays": ["2025-09-28"], "workday_hours": [...] | None}."""
    weekly = doc.get("weekly") or {}
    hours = doc.get("workday_hours")
    return BusinessCalendar(
        timezone=doc.get("timezone") or "Asia/Shanghai",
        weekly={i: normalise(weekly.get(name) or ()) for i, name in enumerate(WEEKDAYS)},
        holidays=frozenset(date.fromisoformat(d) for d in doc.get("holidays") or ()),
        workdays=frozenset(date.fromisoformat(d) for d in doc.get("workdays") or ()),
        workday_hours=normalise(hours) if hours is not None else None,
    )


def to_document(cal: BusinessCalendar) -> dict:
    return {
        "timezone": cal.timezone,
        "weekly": {
            name: [format_range(r) for r in cal.weekly.get(i, ())]
            for i, name in enumerate(WEEKDAYS)
        },
        "holidays": sorted(d.isoformat() for d in cal.holidays),
        "workdays": sorted(d.isoformat() for d in cal.workdays),
        "workday_hours": (
            [format_range(r) for r in cal.workday_hours] if cal.workday_hours is not None else None
        ),
    }


DEFAULT_CALENDAR = BusinessCalendar()
