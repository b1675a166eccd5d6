"""The segment definition language (docs/segments.md): a filter is a tree of AND/OR/NOT over
conditions, each node a JSON object with exactly one key.

    {"and": [{"tag": {"in": ["vip"]}},
             {"spend": {"gte": 100000}},
             {"last_contact": {"within_days": 30}},
             {"not": {"region": {"in": ["广东省"]}}}]}

Decoded straight into msgspec Structs; `check` then enforces what types cannot say (one key per
node, depth and size limits) with codes a developer can act on. `indexes` names the bitmaps a
filter needs; `evaluate` combines them into the set of matching customer numbers, exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from pyroaring import BitMap

from kefu.errors import BadRequest
from kefu.segments import bsi
from kefu.segments.features import (
    ALL,
    MINUTE_MS,
    NUMERIC,
    NumericField,
    attribute_index,
    value_index,
)

MAX_DEPTH = 8  # AND/OR/NOT levels
MAX_CONDITIONS = 40  # leaves in one filter
MAX_VALUES = 100  # values in one condition
# Absolute dates are the shop's calendar days (mainland China shops; per-shop zones later).
SHOP_ZONE = ZoneInfo("Asia/Shanghai")
DAY_MINUTES = 24 * 60

Value = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
AttrValue = Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | int | float | bool
Days = Annotated[int, msgspec.Meta(ge=0, le=36_500)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class ValueSet(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`in`: has any of these; `all`: has every one (tags, channels)."""

    in_: list[Value] | None = msgspec.field(default=None, name="in")
    all: list[Value] | None = None


class NumberRange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Spend in cents (分), order counts; bounds combine; `exists` false: no value at all."""

    gte: Count | None = None
    gt: Count | None = None
    lte: Count | None = None
    lt: Count | None = None
    exists: bool | None = None


class TimeRange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Relative (`within_days`, `more_than_days`) or absolute shop dates (`from`, `to`,
    inclusive); `exists` false: never (no purchase, no contact)."""

    within_days: Days | None = None
    more_than_days: Days | None = None
    from_: dt.date | None = msgspec.field(default=None, name="from")
    to: dt.date | None = None
    exists: bool | None = None


class AttributeCondition(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    in_: list[AttrValue] = msgspec.field(name="in")


class Filter(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    and_: list[Filter] | None = msgspec.field(default=None, name="and")
    or_: list[Filter] | None = msgspec.field(default=None, name="or")
    not_: Filter | None = msgspec.field(default=None, name="not")
    tag: ValueSet | None = None
    tier: ValueSet | None = None
    lifecycle_stage: ValueSet | None = None
    channel: ValueSet | None = None
    region: ValueSet | None = None
    owner_agent: ValueSet | None = None
    spend: NumberRange | None = None
    orders_count: NumberRange | None = None
    last_purchase: TimeRange | None = None
    last_contact: TimeRange | None = None
    attribute: AttributeCondition | None = None


_NUMERIC_FIELD = {
    "spend": "spend",
    "orders_count": "orders",
    "last_purchase": "last_purchase",
    "last_contact": "last_contact",
}
_VALUE_FIELDS = ("tag", "tier", "lifecycle_stage", "channel", "region", "owner_agent")


def _keys(node: Filter) -> list[str]:
    return [f for f in node.__struct_fields__ if getattr(node, f) is not None]


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_filter")


def check(node: Filter) -> None:
    """One key per node, depth <= MAX_DEPTH, conditions <= MAX_CONDITIONS, sound ranges."""
    leaves = 0

    def walk(n: Filter, depth: int, path: str) -> None:
        nonlocal leaves
        if depth > MAX_DEPTH:
            raise BadRequest(
                f"the filter is nested deeper than {MAX_DEPTH} levels (at {path}); "
                "flatten it: AND and OR take lists",
                code="filter_too_deep",
            )
        keys = _keys(n)
        if len(keys) != 1:
            raise _invalid(f"{path}: each filter node has exactly one key, got {keys or 'none'}")
        key = keys[0]
        value = getattr(n, key)
        if key in ("and_", "or_"):
            if not value:
                raise _invalid(f"{path}.{key.rstrip('_')}: give at least one filter")
            for i, child in enumerate(value):
                walk(child, depth + 1, f"{path}.{key.rstrip('_')}[{i}]")
            return
        if key == "not_":
            walk(value, depth + 1, f"{path}.not")
            return
        leaves += 1
        if leaves > MAX_CONDITIONS:
            raise BadRequest(
                f"a filter may hold at most {MAX_CONDITIONS} conditions", code="filter_too_large"
            )
        _check_leaf(key, value, f"{path}.{key}")

    walk(node, 1, "filter")


def _check_leaf(key: str, value: Any, path: str) -> None:
    if isinstance(value, ValueSet):
        chosen = [v for v in (value.in_, value.all) if v is not None]
        if len(chosen) != 1 or not chosen[0]:
            raise _invalid(f"{path}: give a non-empty `in` or `all`")
        if value.all is not None and key not in ("tag", "channel"):
            raise _invalid(f"{path}: `all` applies to tags and channels (one value each otherwise)")
        if len(chosen[0]) > MAX_VALUES:
            raise BadRequest(f"{path}: at most {MAX_VALUES} values", code="filter_too_large")
    elif isinstance(value, AttributeCondition):
        if not value.in_ or len(value.in_) > MAX_VALUES:
            raise _invalid(f"{path}: `in` takes 1 to {MAX_VALUES} values")
    elif isinstance(value, NumberRange | TimeRange):
        bounds = [
            k for k in value.__struct_fields__ if k != "exists" and getattr(value, k) is not None
        ]
        if not bounds and value.exists is None:
            raise _invalid(f"{path}: give a bound or `exists`")
        if bounds and value.exists is False:
            raise _invalid(f"{path}: `exists: false` cannot be combined with bounds")


# --- evaluation --------------------------------------------------------------------------------


def _bounds(key: str, value: NumberRange | TimeRange, now_ms: int) -> tuple[int | None, int | None]:
    """[lo, hi) on the indexed value (cents, counts, or minutes)."""
    if isinstance(value, NumberRange):
        lows = [v for v in (value.gte, None if value.gt is None else value.gt + 1) if v is not None]
        highs = [
            v for v in (value.lt, None if value.lte is None else value.lte + 1) if v is not None
        ]
        return (max(lows) if lows else None, min(highs) if highs else None)
    now_minute = now_ms // MINUTE_MS
    lows, highs = [], []
    if value.within_days is not None:
        lows.append(now_minute - value.within_days * DAY_MINUTES)
    if value.more_than_days is not None:
        highs.append(now_minute - value.more_than_days * DAY_MINUTES)
    if value.from_ is not None:
        lows.append(_day_start_minute(value.from_))
    if value.to is not None:
        highs.append(_day_start_minute(value.to + dt.timedelta(days=1)))
    return (max(lows) if lows else None, min(highs) if highs else None)


def _day_start_minute(day: dt.date) -> int:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=SHOP_ZONE)
    return int(start.timestamp()) // 60


def _numeric(key: str) -> NumericField:
    return NUMERIC[_NUMERIC_FIELD[key]]


def indexes(node: Filter) -> set[str]:
    """Every index name `evaluate` will ask for."""
    key = _keys(node)[0]
    value = getattr(node, key)
    if key in ("and_", "or_"):
        return set().union(*(indexes(c) for c in value))
    if key == "not_":
        return indexes(value) | {ALL}
    if key == "attribute":
        return {attribute_index(value.id, v) for v in value.in_}
    if key in _VALUE_FIELDS:
        return {value_index(key, v) for v in (value.in_ or value.all or [])}
    numeric = _numeric(key)
    out = {numeric.exists_index(), ALL}
    out.update(numeric.slice_index(b) for b in range(numeric.bits))
    return out


def evaluate(node: Filter, bitmap: Callable[[str], BitMap], now_ms: int) -> BitMap:
    """The numbers of the customers the filter matches (`bitmap(name)`: an index over all
    chunks, empty when it has no item)."""
    key = _keys(node)[0]
    value = getattr(node, key)
    if key == "and_":
        result = evaluate(value[0], bitmap, now_ms)
        for child in value[1:]:
            if not result:
                break
            result &= evaluate(child, bitmap, now_ms)
        return result
    if key == "or_":
        return BitMap.union(*(evaluate(c, bitmap, now_ms) for c in value))
    if key == "not_":
        return bitmap(ALL) - evaluate(value, bitmap, now_ms)
    if key == "attribute":
        return BitMap.union(*(bitmap(attribute_index(value.id, v)) for v in value.in_))
    if key in _VALUE_FIELDS:
        if value.all is not None:
            return BitMap.intersection(*(bitmap(value_index(key, v)) for v in value.all))
        return BitMap.union(*(bitmap(value_index(key, v)) for v in value.in_))
    numeric = _numeric(key)
    exists = bitmap(numeric.exists_index()) & bitmap(ALL)
    if value.exists is False:
        return bitmap(ALL) - exists
    slices = {b: bitmap(numeric.slice_index(b)) for b in range(numeric.bits)}
    lo, hi = _bounds(key, value, now_ms)
    return bsi.in_range(slices, exists, numeric.bits, gte=lo, lt=hi)


def decode_filter_json(raw: bytes, type_: type[Any], *, max_bytes: int) -> Any:
    """Decode a body holding a filter, refusing deep nesting before the decoder recurses (a
    filter nested thousands deep must be a 400, not a RecursionError)."""
    from kefu.validation import decode_body

    if raw and len(raw) <= max_bytes:
        depth = deepest = 0
        in_string = escaped = False
        for byte in raw:
            if in_string:
                if escaped:
                    escaped = False
                elif byte == 0x5C:  # backslash
                    escaped = True
                elif byte == 0x22:
                    in_string = False
            elif byte == 0x22:
                in_string = True
            elif byte in (0x7B, 0x5B):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > 4 * MAX_DEPTH + 8:  # each filter level is {"and": [ ... ]}
                    raise BadRequest(
                        f"the filter is nested deeper than {MAX_DEPTH} levels; flatten it: "
                        "AND and OR take lists",
                        code="filter_too_deep",
                    )
            elif byte in (0x7D, 0x5D):
                depth -= 1
    return decode_body(raw, type_, max_bytes=max_bytes)
