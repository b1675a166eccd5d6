"""Evaluating a filter over a shop's segment index: the count and a page of customers, sorted
newest first, or by spend or last contact (largest first) through the bit-sliced index's top-k
(docs/segments.md). One GetItem (how many numbers exist), BatchGetItems of just the bitmaps the
filter and the sort need, one BatchGetItem of the reverse map and one of the page's customers.
Never a Scan.

`page(shop_id, filter, sort, cursor, limit)` is the engine the customer list and saved segments
call; `matching(shop_id, filter)` the bitmap alone (members, bulk jobs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Literal

import msgspec
from pyroaring import BitMap

from kefu.errors import BadRequest
from kefu.ids import now_ms
from kefu.pagination import decode_cursor, encode_cursor
from kefu.segments import bsi
from kefu.segments.features import ALL, NUMERIC
from kefu.segments.filters import Filter, check, evaluate, indexes
from kefu.storage import segments as store

Sort = Literal["newest", "spend", "last_contact"]
SORTS: tuple[str, ...] = ("newest", "spend", "last_contact")
_SORT_FIELD = {"spend": "spend", "last_contact": "last_contact"}


class Index:
    """The bitmaps a query needs, each the union of its chunks."""

    def __init__(self, shop_id: str, names: Iterable[str]) -> None:
        self.shop_id = shop_id
        self.numbers = store.numbers_in_use(shop_id)
        chunks = range((self.numbers + store.CHUNK_SIZE - 1) // store.CHUNK_SIZE)
        wanted = [(name, chunk) for name in sorted(set(names)) for chunk in chunks]
        parts: dict[str, list[BitMap]] = {}
        for (name, _), (raw, _) in store.read_bitmaps(shop_id, wanted).items():
            parts.setdefault(name, []).append(BitMap.deserialize(raw))
        self._maps = {
            name: BitMap.union(*found) if len(found) > 1 else found[0]
            for name, found in parts.items()
        }
        self.requested = len(wanted)

    def __call__(self, name: str) -> BitMap:
        return self._maps.get(name) or BitMap()


def as_filter(value: Filter | Mapping[str, Any] | None) -> Filter | None:
    """A Filter from a Struct or its JSON-shaped dict (a saved definition), checked."""
    if value is None:
        return None
    if not isinstance(value, Filter):
        try:
            value = msgspec.convert(value, Filter)
        except msgspec.ValidationError as exc:
            raise BadRequest(f"invalid filter: {exc}", code="invalid_filter") from None
    check(value)
    return value


def _load(shop_id: str, filter_: Filter | None, sort: str) -> tuple[Index, BitMap]:
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}", code="invalid_sort")
    names = {ALL} | (indexes(filter_) if filter_ is not None else set())
    if sort in _SORT_FIELD:
        numeric = NUMERIC[_SORT_FIELD[sort]]
        names.add(numeric.exists_index())
        names.update(numeric.slice_index(b) for b in range(numeric.bits))
    index = Index(shop_id, names)
    result = evaluate(filter_, index, now_ms()) if filter_ is not None else index(ALL)
    return index, result & index(ALL)


def matching(shop_id: str, filter_: Filter | Mapping[str, Any] | None) -> BitMap:
    """The numbers of the customers the filter matches."""
    return _load(shop_id, as_filter(filter_), "newest")[1]


def count(shop_id: str, filter_: Filter | Mapping[str, Any] | None) -> int:
    return len(matching(shop_id, filter_))


def _newest(result: BitMap, before: int | None, limit: int) -> list[int]:
    """Up to `limit` numbers below `before`, highest first."""
    if before is not None and before <= 0:
        return []
    end = result.rank(before - 1) if before is not None else len(result)
    return [result[i] for i in range(end - 1, max(end - limit, 0) - 1, -1)]


def _sorted_page(
    index: Index, result: BitMap, sort: str, position: tuple[str, int, int] | None, limit: int
) -> list[tuple[int, int | None]]:
    """(number, value) in (value desc, number desc) order; customers without a value last."""
    numeric = NUMERIC[_SORT_FIELD[sort]]
    slices = {b: index(numeric.slice_index(b)) for b in range(numeric.bits)}
    valued = result & index(numeric.exists_index())
    rest = result - valued
    out: list[tuple[int, int | None]] = []
    phase, value, number = position or ("v", 0, 0)
    if phase == "v":
        if position is not None:
            lower, equal, _ = bsi.compare(slices, valued, numeric.bits, value)
            tied = BitMap(_newest(equal, number, len(equal)))
            valued = lower | tied
        top = bsi.top_k(slices, numeric.bits, valued, limit)
        ranked = sorted(
            ((n, bsi.value_of(slices, numeric.bits, n)) for n in top),
            key=lambda nv: (-nv[1], -nv[0]),
        )
        out.extend(ranked)
    if len(out) < limit:
        before = number if phase == "n" else None
        out.extend((n, None) for n in _newest(rest, before, limit - len(out)))
    return out


def _cursor_position(cursor: str | None, shop_id: str) -> tuple[str, int, int] | None:
    key = decode_cursor(cursor, shop_id=shop_id)
    if key is None:
        return None
    try:
        return key["p"]["S"], int(key["v"]["N"]), int(key["n"]["N"])
    except (KeyError, TypeError, ValueError):
        raise BadRequest("invalid cursor", code="invalid_cursor") from None


def page(
    shop_id: str,
    filter: Filter | Mapping[str, Any] | None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """{"count", "customers": [summary...], "next_cursor"} for the filter (None: everyone)."""
    filter_ = as_filter(filter)
    index, result = _load(shop_id, filter_, sort)
    position = _cursor_position(cursor, shop_id)
    if sort == "newest":
        before = position[2] if position else None
        chosen: list[tuple[int, int | None]] = [(n, None) for n in _newest(result, before, limit)]
    else:
        chosen = _sorted_page(index, result, sort, position, limit)
    next_cursor = None
    if len(chosen) == limit:
        last, value = chosen[-1]
        more = (
            len(_newest(result, last, 1)) > 0
            if sort == "newest"
            else bool(_sorted_page(index, result, sort, _position(last, value), 1))
        )
        if more:
            p, v, n = _position(last, value)
            next_cursor = encode_cursor(
                {"pk": {"S": shop_id}, "p": {"S": p}, "v": {"N": str(v)}, "n": {"N": str(n)}},
                shop_id=shop_id,
            )
    return {
        "count": len(result),
        "customers": customers_of(shop_id, [n for n, _ in chosen]),
        "next_cursor": next_cursor,
    }


def _position(number: int, value: int | None) -> tuple[str, int, int]:
    return ("v", value, number) if value is not None else ("n", 0, number)


def customers_of(shop_id: str, numbers: list[int]) -> list[dict[str, Any]]:
    """The customers behind numbers, in that order (a summary without personal fields)."""
    ids = store.read_reverse(shop_id, numbers)
    found = store.read_customers(shop_id, [ids[n] for n in numbers if n in ids])
    out = []
    for n in numbers:
        customer = found.get(ids.get(n, ""))
        if customer is not None:
            out.append(summary(customer))
    return out


_SUMMARY = (
    "customer_id",
    "display_name",
    "avatar_url",
    "tier",
    "tags",
    "lifecycle_stage",
    "region",
    "channels",
    "owner_agent",
    "orders_count",
    "total_spent",
    "last_purchase_at",
    "last_contact_at",
    "created_at",
)


def summary(item: Mapping[str, Any]) -> dict[str, Any]:
    """What a segment's customer list shows: no personal (encrypted) field."""
    return {k: _plain(item[k]) for k in _SUMMARY if item.get(k) is not None}


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals and sets as JSON has them."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return value


def member_ids(shop_id: str, numbers: BitMap, block: int = 1000) -> Iterator[str]:
    """customer ids of `numbers`, in number order, reading the reverse map block by block."""
    pending = list(numbers)
    for start in range(0, len(pending), block):
        part = pending[start : start + block]
        ids = store.read_reverse(shop_id, part)
        yield from (ids[n] for n in part if n in ids)


def customer_list_page(
    shop_id: str,
    *,
    tag: str | None = None,
    tier: str | None = None,
    segment: str | None = None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The customer list's filters over the index (GET /v1/customers?tag=&tier=&segment=&sort=):
    each given one is a condition, ANDed; `segment` is a saved segment's definition (404 when
    the shop has no such segment). The same answer as `page`."""
    conditions: list[dict[str, Any]] = []
    if tag:
        conditions.append({"tag": {"in": [tag]}})
    if tier:
        conditions.append({"tier": {"in": [tier]}})
    if segment:
        conditions.append(store.saved_definition(shop_id, segment))
    filter_ = {"and": conditions} if conditions else None
    return page(shop_id, filter_, sort, cursor, limit)
