"""Specification: business-minute arithmetic over business-hours calendars — opening hours per
weekday in the calendar's timezone, holidays skipped, make-up working days (调休) counted."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from kefu.tickets.calendar import (
    BusinessCalendar,
    add_business_minutes,
    business_minutes_between,
    from_document,
    to_document,
)

SH = ZoneInfo("Asia/Shanghai")
MON_FRI_9_18 = BusinessCalendar()  # the default: Mon–Fri 09:00–18:00, Asia/Shanghai


def sh(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SH)


# 2024-11-22 is a Friday.
def test_friday_evening_plus_four_business_hours_is_monday_1300():
    assert add_business_minutes(sh(2024, 11, 22, 19), 240, MON_FRI_9_18) == sh(2024, 11, 25, 13)


def test_time_inside_hours_counts_until_closing_then_resumes_next_morning():
    assert add_business_minutes(sh(2024, 11, 20, 17), 120, MON_FRI_9_18) == sh(2024, 11, 21, 10)
    assert add_business_minutes(sh(2024, 11, 20, 10), 60, MON_FRI_9_18) == sh(2024, 11, 20, 11)


def test_before_opening_starts_at_opening_and_a_full_day_ends_at_closing():
    assert add_business_minutes(sh(2024, 11, 20, 6), 30, MON_FRI_9_18) == sh(2024, 11, 20, 9, 30)
    assert add_business_minutes(sh(2024, 11, 20, 9), 540, MON_FRI_9_18) == sh(2024, 11, 20, 18)


def test_zero_minutes_is_the_start_itself():
    start = sh(2024, 11, 23, 3)
    assert add_business_minutes(start, 0, MON_FRI_9_18) == start


def test_holidays_are_skipped():
    # National Day week 2024: Oct 1–7 off. Monday Sep 30 17:00 + 2 business hours.
    cal = BusinessCalendar(holidays=frozenset(date(2024, 10, d) for d in range(1, 8)))
    assert add_business_minutes(sh(2024, 9, 30, 17), 120, cal) == sh(2024, 10, 8, 10)


def test_make_up_saturday_is_counted_with_weekday_hours():
    # 调休: Saturday Oct 12 2024 is a working day.
    cal = BusinessCalendar(workdays=frozenset({date(2024, 10, 12)}))
    assert add_business_minutes(sh(2024, 10, 11, 17), 120, cal) == sh(2024, 10, 12, 10)
    assert (
        business_minutes_between(sh(2024, 10, 11, 17), sh(2024, 10, 14, 10), cal) == 60 + 540 + 60
    )


def test_make_up_day_hours_can_differ():
    cal = BusinessCalendar(
        workdays=frozenset({date(2024, 10, 12)}), workday_hours=((10 * 60, 12 * 60),)
    )
    assert add_business_minutes(sh(2024, 10, 11, 18), 150, cal) == sh(2024, 10, 14, 9, 30)


def test_the_calendar_timezone_governs_whatever_zone_the_start_is_in():
    # Friday 11:00 UTC is Friday 19:00 in Shanghai: due Monday 13:00 Shanghai = 05:00 UTC.
    start = datetime(2024, 11, 22, 11, tzinfo=UTC)
    due = add_business_minutes(start, 240, MON_FRI_9_18)
    assert due == datetime(2024, 11, 25, 5, tzinfo=UTC)
    assert due.utcoffset() == timedelta(hours=8)
    # The same instant against a London calendar is Friday 11:00 there: due Friday 15:00.
    london = BusinessCalendar(timezone="Europe/London")
    assert add_business_minutes(start, 240, london) == datetime(
        2024, 11, 22, 15, tzinfo=ZoneInfo("Europe/London")
    )


def test_split_shifts_count_only_the_open_intervals():
    cal = BusinessCalendar(weekly={d: ((9 * 60, 12 * 60), (13 * 60, 18 * 60)) for d in range(5)})
    assert add_business_minutes(sh(2024, 11, 20, 11), 120, cal) == sh(2024, 11, 20, 14)
    assert business_minutes_between(sh(2024, 11, 20, 11), sh(2024, 11, 20, 14), cal) == 120


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (sh(2024, 11, 22, 19), sh(2024, 11, 25, 13), 240),  # over a weekend
        (sh(2024, 11, 20, 10), sh(2024, 11, 20, 10, 30), 30),
        (sh(2024, 11, 23, 10), sh(2024, 11, 24, 10), 0),  # all weekend
        (sh(2024, 11, 20, 12), sh(2024, 11, 20, 11), 0),  # backwards
    ],
)
def test_business_minutes_between(start, end, minutes):
    assert business_minutes_between(start, end, MON_FRI_9_18) == minutes


def test_between_inverts_add():
    start = sh(2024, 11, 18, 15, 17)
    for minutes in (1, 59, 600, 2000, 9000):
        due = add_business_minutes(start, minutes, MON_FRI_9_18)
        assert business_minutes_between(start, due, MON_FRI_9_18) == minutes


def test_a_calendar_that_never_opens_is_refused():
    with pytest.raises(ValueError):
        add_business_minutes(sh(2024, 11, 20), 10, BusinessCalendar(weekly={}))


def test_document_round_trip():
    doc = {
        "timezone": "Asia/Shanghai",
        "weekly": {"mon": ["09:00-12:00", "13:00-18:00"], "sat": ["10:00-16:00"]},
        "holidays": ["2025-10-01"],
        "workdays": ["2025-09-28"],
        "workday_hours": None,
    }
    cal = from_document(doc)
    assert cal.intervals_on(date(2025, 9, 29)) == ((540, 720), (780, 1080))  # a Monday
    assert cal.intervals_on(date(2025, 9, 28)) == ((540, 720), (780, 1080))  # make-up Sunday
    assert cal.intervals_on(date(2025, 10, 1)) == ()
    again = to_document(cal)
    assert again["weekly"]["mon"] == ["09:00-12:00", "13:00-18:00"]
    assert again["weekly"]["tue"] == []
    assert from_document(again) == cal


def test_overlapping_hours_are_refused():
    with pytest.raises(ValueError):
        from_document({"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}})
