"""What of a customer item the segment index holds: the names of the bitmaps a customer's
number is in (docs/segments.md).

A customer item (a stream image, or a pynamodb item's attributes) becomes a set of index names:
"all", "tag:<id>", "tier:<id>", "stage:<stage>", "channel:<c>", "region:<prefix>" (each level of
"广东省/深圳市"), "owner:<username>", "attr:<attribute id>:<value digest>", and for each numeric
field "<field>:e" (has a value) plus "<field>:<bit>" per set bit (its bit-sliced index). The
maintainer diffs the sets of the old and new image; an erased or merged customer has none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kefu.segments.bsi import slice_bits

MINUTE_MS = 60_000


@dataclass(frozen=True)
class NumericField:
    name: str  # the index name's prefix and the filter's field
    attribute: str  # on the customer item
    bits: int
    unit_ms: int = 0  # times: indexed in whole minutes (filters' bounds are whole minutes)

    def indexed(self, raw: int) -> int:
        return raw // self.unit_ms if self.unit_ms else raw

    def exists_index(self) -> str:
        return f"{self.name}:e"

    def slice_index(self, bit: int) -> str:
        return f"{self.name}:{bit}"


NUMERIC = {
    f.name: f
    for f in (
        NumericField("spend", "total_spent", 40),  # cents: up to ~110 亿元 per customer
        NumericField("orders", "orders_count", 24),
        NumericField("last_purchase", "last_purchase_at", 26, MINUTE_MS),  # minutes to 2097
        NumericField("last_contact", "last_contact_at", 26, MINUTE_MS),
    )
}

# Single- and multi-valued fields: filter field -> (index prefix, customer item attribute).
VALUED = {
    "tag": "tags",
    "tier": "tier",
    "lifecycle_stage": "lifecycle_stage",
    "channel": "channels",
    "region": "region",
    "owner_agent": "owner_agent",
}
ALL = "all"
MAX_TOKEN = 80  # longer values are indexed by digest (keys stay short)


def token(value: Any) -> str:
    """A value as it appears in an index name: short plain values as themselves, others by
    digest (so a long or odd value never makes a long key)."""
    text = _canonical(value)
    if len(text.encode()) <= MAX_TOKEN and text.isprintable() and "#" not in text:
        return text
    return "h" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    if isinstance(value, Decimal):
        return str(float(value))
    return str(value)


def attribute_token(value: Any) -> str:
    """Custom attribute values are always indexed by digest: they may hold anything."""
    return "h" + hashlib.sha256(_canonical(value).encode()).hexdigest()[:24]


def value_index(field: str, value: Any) -> str:
    return f"{field}:{token(value)}"


def attribute_index(attribute_id: str, value: Any) -> str:
    return f"attr:{token(attribute_id)}:{attribute_token(value)}"


def region_levels(region: str) -> list[str]:
    parts = [p for p in region.split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def is_live(image: Mapping[str, Any] | None) -> bool:
    return bool(image) and not image.get("erased_at") and not image.get("merged_into")  # type: ignore[union-attr]


def features(image: Mapping[str, Any] | None) -> set[str]:
    """The index names a customer item puts its number in."""
    if image is None or not is_live(image):
        return set()
    out = {ALL}
    for field, attribute in VALUED.items():
        raw = image.get(attribute)
        values = raw if isinstance(raw, list | set | tuple) else [raw]
        for value in values:
            if value is None or value == "":
                continue
            if field == "region":
                out.update(value_index(field, level) for level in region_levels(str(value)))
            else:
                out.add(value_index(field, value))
    for attribute_id, raw in (image.get("attributes") or {}).items():
        values = raw if isinstance(raw, list | set | tuple) else [raw]
        out.update(attribute_index(attribute_id, v) for v in values if v is not None and v != "")
    for numeric in NUMERIC.values():
        raw = image.get(numeric.attribute)
        if raw is None:
            continue
        out.add(numeric.exists_index())
        bits = slice_bits(numeric.indexed(int(raw)), numeric.bits)
        out.update(numeric.slice_index(b) for b in bits)
    return out
