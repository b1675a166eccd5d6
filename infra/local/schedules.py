"""Schedule / ScheduleV2 events: fire functions on rate(...) and cron(...) expressions.

EventBridge cron has six fields (minutes hours day-of-month month day-of-week year), uses `?`
for "no specific value" and numbers Sunday 1..Saturday 7; croniter wants five fields with
Sunday 0. `fire_now()` invokes right away with the same payload, for tests and scripts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from infra.local.functions import FunctionError, LocalFunction

log = logging.getLogger(__name__)


class ScheduleError(ValueError):
    """A schedule expression the runner cannot evaluate."""


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def _shift_dow(item: str) -> str:
    """AWS day-of-week 1..7 (SUN..SAT) → cron 0..6; names and wildcards pass through."""

    def shift(text: str) -> str:
        return re.sub(r"\d+", lambda m: str((int(m.group()) - 1) % 7), text)

    if "#" in item:  # 6#3: third Friday; only the weekday shifts
        day, nth = item.split("#", 1)
        return f"{shift(day)}#{nth}"
    if "/" in item:  # 2/2: the start shifts, the step does not
        start, step = item.split("/", 1)
        return f"{shift(start)}/{step}"
    if "-" in item:
        low, high = item.split("-", 1)
        low, high = shift(low), shift(high)
        # SUN-SAT style ranges expressed as 1-7 become 0-6; 7 maps to 6 (Saturday).
        return f"{low}-{high}"
    return shift(item)


def aws_cron_to_croniter(body: str) -> str:
    """Translate the inside of an EventBridge `cron(...)` to a five-field croniter expression."""
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(f"cron needs 6 fields, got {len(fields)}: {body!r}")
    minute, hour, dom, month, dow, year = fields
    if "W" in dom:
        raise ScheduleError(f"day-of-month {dom!r} (W) is not supported locally")
    if year not in ("*", "?"):
        log.info("cron(%s): the year field is ignored locally", body)
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else ",".join(_shift_dow(part) for part in dow.split(","))
    return " ".join((minute, hour, dom, month, dow))


def next_fire_function(
    expression: str, timezone: str = "UTC"
) -> Callable[[datetime], datetime | None]:
    """A function giving the first fire time strictly after a given (aware) datetime."""
    expression = expression.strip()
    tz = ZoneInfo(timezone or "UTC")
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount <= 0:
            raise ScheduleError(f"{expression}: the rate must be positive")
        period = timedelta(**{f"{unit}s": amount})
        return lambda after: after + period
    cron = _CRON.match(expression)
    if cron:
        spec = aws_cron_to_croniter(cron.group(1))
        if not croniter.is_valid(spec):
            raise ScheduleError(f"{expression}: not a valid cron expression ({spec})")

        def next_cron(after: datetime) -> datetime:
            return croniter(spec, after.astimezone(tz)).get_next(datetime).astimezone(UTC)

        return next_cron
    at = _AT.match(expression)
    if at:
        when = datetime.fromisoformat(at.group(1)).replace(tzinfo=tz).astimezone(UTC)
        return lambda after: when if when > after else None
    raise ScheduleError(f"unsupported schedule expression {expression!r}")


@dataclass
class Schedule:
    """One Schedule or ScheduleV2 event of a function."""

    function: LocalFunction
    event_name: str
    kind: str  # Schedule | ScheduleV2
    expression: str
    name: str
    arn: str
    enabled: bool = True
    input: Any = None  # the event's Input, decoded; None = the scheduled-event payload
    timezone: str = "UTC"
    next_fire: Callable[[datetime], datetime | None] | None = field(default=None, repr=False)


class ScheduleRunner:
    """Fires schedules on time in a background thread; `fire_now` fires synchronously."""

    def __init__(self, schedules: list[Schedule], region: str, account_id: str) -> None:
        self.schedules = schedules
        self.region = region
        self.account_id = account_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[tuple[str, str, datetime]] = []  # (function, event, time) for the curious

    # -- payloads ----------------------------------------------------------------------------

    def event_for(self, schedule: Schedule, when: datetime | None = None) -> Any:
        """What EventBridge hands the function for this schedule."""
        if schedule.input is not None:
            return schedule.input
        when = (when or datetime.now(UTC)).astimezone(UTC)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events" if schedule.kind == "Schedule" else "aws.scheduler",
            "account": self.account_id,
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [schedule.arn],
            "detail": {},
        }

    # -- firing ------------------------------------------------------------------------------

    def find(self, function_name: str, event_name: str | None = None) -> Schedule:
        for schedule in self.schedules:
            f = schedule.function
            if function_name in (f.logical_id, f.name) and event_name in (
                None,
                schedule.event_name,
            ):
                return schedule
        raise KeyError(f"no schedule for function {function_name!r} (event {event_name!r})")

    def fire_now(self, function_name: str, event_name: str | None = None) -> Any:
        """Invoke the function's schedule now; returns the result, raises FunctionError."""
        schedule = self.find(function_name, event_name)
        return self._fire(schedule, datetime.now(UTC))

    def _fire(self, schedule: Schedule, when: datetime) -> Any:
        self.fired.append((schedule.function.logical_id, schedule.event_name, when))
        log.info("schedule %s fires %s", schedule.name, schedule.function.name)
        return schedule.function.invoke(self.event_for(schedule, when))

    def start(self) -> None:
        active = [s for s in self.schedules if s.enabled and s.next_fire is not None]
        if not active:
            return
        self._thread = threading.Thread(
            target=self._run, args=(active,), name="kefu-local-schedules", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, active: list[Schedule]) -> None:
        now = datetime.now(UTC)
        due: dict[int, datetime | None] = {
            i: s.next_fire(now)  # type: ignore[misc]
            for i, s in enumerate(active)
        }
        while not self._stop.is_set():
            pending = {i: t for i, t in due.items() if t is not None}
            if not pending:
                return
            index = min(pending, key=lambda i: pending[i])
            delay = (pending[index] - datetime.now(UTC)).total_seconds()
            if delay > 0 and self._stop.wait(min(delay, 60)):
                return
            if delay > 60:
                continue  # re-check: wall clock may have moved
            schedule, when = active[index], pending[index]
            due[index] = schedule.next_fire(when)  # type: ignore[misc]
            # Fire in its own thread: EventBridge does not wait for the previous run.
            threading.Thread(target=self._fire_logged, args=(schedule, when), daemon=True).start()

    def _fire_logged(self, schedule: Schedule, when: datetime) -> None:
        with contextlib.suppress(FunctionError):  # already logged with its traceback
            self._fire(schedule, when)


def build_schedules(
    functions: dict[str, LocalFunction], *, stack_name: str, region: str, account_id: str
) -> list[Schedule]:
    schedules = []
    for function in functions.values():
        for event_name, event in function.events.items():
            kind = event.get("Type")
            if kind not in ("Schedule", "ScheduleV2"):
                continue
            props = event["Properties"]
            expression = str(
                props.get("Schedule") if kind == "Schedule" else props.get("ScheduleExpression")
            )
            default_name = f"{stack_name}-{function.logical_id}{event_name}"[:64]
            if kind == "Schedule":
                name = str(props.get("Name") or default_name)
                arn = f"arn:aws:events:{region}:{account_id}:rule/{name}"
                enabled = (
                    str(props.get("Enabled", True)).lower() != "false"
                    and str(props.get("State", "ENABLED")).upper() != "DISABLED"
                )
            else:
                name = str(props.get("Name") or default_name)
                group = props.get("GroupName", "default")
                arn = f"arn:aws:scheduler:{region}:{account_id}:schedule/{group}/{name}"
                enabled = str(props.get("State", "ENABLED")).upper() != "DISABLED"
            raw_input = props.get("Input")
            schedule = Schedule(
                function=function,
                event_name=event_name,
                kind=kind,
                expression=expression,
                name=name,
                arn=arn,
                enabled=enabled,
                input=json.loads(raw_input) if isinstance(raw_input, str) else raw_input,
                timezone=str(props.get("ScheduleExpressionTimezone") or "UTC"),
            )
            try:
                schedule.next_fire = next_fire_function(expression, schedule.timezone)
            except ScheduleError as exc:
                log.warning("%s/%s: %s; fire_now only", function.name, event_name, exc)
            schedules.append(schedule)
    return schedules
