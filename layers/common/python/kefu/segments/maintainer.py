"""Keeping the segment index in step with the customer items, from the CustomersTable's stream
(docs/segments.md): every writer (profiles, tags, tiers, erase, merge, intake) is covered
without calling the index.

A batch of stream records becomes, per customer, one net change: the old image of its first
record and the new image of its last (records sorted by sequence number, duplicates by event id
dropped, so out-of-order or replayed duplicates in a batch change nothing). A customer without a
number gets one from a block allocated for the batch. The difference of the two images' index
names becomes bit sets and clears, grouped per bitmap item, and each item is written once per
batch: an optimistic read-modify-write (version condition; a lost race re-reads and re-applies).
Setting or clearing a bit is idempotent, so a replayed batch leaves the same index.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyroaring import BitMap

from kefu.segments.features import features, is_live
from kefu.storage import segments as store
from kefu.storage.customers import CUSTOMER_PREFIX

log = logging.getLogger("kefu.segments")

MAX_ATTEMPTS = 6  # optimistic write retries per item before the batch fails (and is retried)


@dataclass
class Change:
    shop_id: str
    customer_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass
class BitOps:
    adds: BitMap = field(default_factory=BitMap)
    removes: BitMap = field(default_factory=BitMap)


@dataclass
class Applied:
    customers: int = 0
    numbered: int = 0
    items_written: int = 0


def _deserialize(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not image:
        return None
    from boto3.dynamodb.types import TypeDeserializer  # deferred: only the stream needs it

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in image.items()}


def net_changes(records: Iterable[Mapping[str, Any]]) -> list[Change]:
    """One change per customer: first old image -> last new image, in sequence order."""
    seen: dict[str, Mapping[str, Any]] = {}
    for record in records:
        ddb = record.get("dynamodb") or {}
        sk = (ddb.get("Keys") or {}).get("sk", {}).get("S", "")
        if not sk.startswith(CUSTOMER_PREFIX):
            continue  # identity items and the like: not customers
        seen.setdefault(str(record.get("eventID") or ddb.get("SequenceNumber")), record)
    ordered = sorted(seen.values(), key=lambda r: int(r["dynamodb"].get("SequenceNumber", 0)))
    changes: dict[tuple[str, str], Change] = {}
    for record in ordered:
        ddb = record["dynamodb"]
        shop_id = ddb["Keys"]["pk"]["S"]
        customer_id = ddb["Keys"]["sk"]["S"][len(CUSTOMER_PREFIX) :]
        new = _deserialize(ddb.get("NewImage"))
        key = (shop_id, customer_id)
        if key in changes:
            changes[key].new = new
        else:
            changes[key] = Change(shop_id, customer_id, _deserialize(ddb.get("OldImage")), new)
    return list(changes.values())


def _number(image: Mapping[str, Any] | None) -> int | None:
    value = (image or {}).get("number")
    return int(value) if value is not None else None


def apply_changes(changes: list[Change]) -> Applied:
    """Apply net changes to the index (the stream consumer's whole job)."""
    applied = Applied(customers=len(changes))
    by_shop: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_shop[change.shop_id].append(change)
    for shop_id, shop_changes in by_shop.items():
        ops: dict[tuple[str, int], BitOps] = defaultdict(BitOps)
        reverse: dict[int, str | None] = {}
        numbers = _numbers_for(shop_id, shop_changes)
        applied.numbered += sum(1 for _, fresh in numbers.values() if fresh)
        for change in shop_changes:
            if change.customer_id not in numbers:
                continue  # never numbered and not live (or gone): nothing indexed
            number, fresh = numbers[change.customer_id]
            before = set() if fresh else features(change.old)
            after = features(change.new)
            chunk = number // store.CHUNK_SIZE
            for name in before - after:
                ops[(name, chunk)].removes.add(number)
            for name in after - before:
                ops[(name, chunk)].adds.add(number)
            if is_live(change.new) and (fresh or not is_live(change.old)):
                reverse[number] = change.customer_id
            elif not is_live(change.new) and (fresh or is_live(change.old)):
                reverse[number] = None
        if reverse:
            store.write_reverse(shop_id, reverse)
        applied.items_written += write_ops(shop_id, ops)
    return applied


def _numbers_for(shop_id: str, changes: list[Change]) -> dict[str, tuple[int, bool]]:
    """customer_id -> (number, fresh). Fresh: just given to this customer, so nothing of theirs
    is indexed yet. A customer whose images carry no number but who has one already (a replay,
    or a change that raced the number's write) is not fresh: their old image was indexed."""
    out: dict[str, tuple[int, bool]] = {}
    missing = []
    for change in changes:
        number = _number(change.new)
        if number is None:
            number = _number(change.old)
        if number is not None:
            out[change.customer_id] = (number, False)
        elif is_live(change.new):
            missing.append(change.customer_id)
        elif is_live(change.old):
            # Erased or merged by a write that raced the number's: the item knows the number.
            number = store.current_number(shop_id, change.customer_id)
            if number is not None:
                out[change.customer_id] = (number, False)
    if missing:
        block = store.allocate_numbers(shop_id, len(missing))
        for customer_id, candidate in zip(missing, block, strict=True):
            number = store.claim_number(shop_id, customer_id, candidate)
            if number is not None:
                out[customer_id] = (number, number == candidate)
    return out


def write_ops(shop_id: str, ops: Mapping[tuple[str, int], BitOps]) -> int:
    """Apply bit sets/clears, one conditional write per changed item; returns items written."""
    pending = {k: v for k, v in ops.items() if v.adds or v.removes}
    written = 0
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            return written
        current = store.read_bitmaps(shop_id, pending, consistent=True)
        created: list[str] = []
        lost = {}
        for (name, chunk), op in pending.items():
            raw, version = current.get((name, chunk), (b"", 0))
            bits = BitMap.deserialize(raw) if raw else BitMap()
            updated = (bits - op.removes) | op.adds
            if updated == bits:
                continue
            updated.run_optimize()
            payload = updated.serialize()
            if store.write_bitmap(shop_id, name, chunk, payload, version):
                written += 1
                if not version:
                    created.append(name)
            else:
                lost[(name, chunk)] = op
        store.register_indexes(shop_id, created)
        pending = lost
    raise RuntimeError(f"segment index: {len(pending)} items still contended; batch retried")


def replace_bitmaps(shop_id: str, wanted: Mapping[tuple[str, int], BitMap]) -> int:
    """Make the index items hold exactly `wanted` (the rebuild): each item overwritten at its
    current version; items of known indexes not in `wanted` are emptied."""
    stale = {
        (name, chunk)
        for name in store.known_indexes(shop_id)
        for chunk in {c for _, c in wanted} or {0}
    } - set(wanted)
    targets = {**{key: BitMap() for key in stale}, **wanted}
    written = 0
    pending = dict(targets)
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            break
        current = store.read_bitmaps(shop_id, pending, consistent=True)
        lost: dict[tuple[str, int], BitMap] = {}
        for (name, chunk), bits in pending.items():
            raw, version = current.get((name, chunk), (b"", 0))
            if not bits and not version:
                continue  # empty and absent: nothing to write
            bits.run_optimize()
            payload = bits.serialize()
            if version and payload == raw:
                continue
            if store.write_bitmap(shop_id, name, chunk, payload, version):
                written += 1
            else:
                lost[(name, chunk)] = bits
        pending = lost
    store.register_indexes(shop_id, {name for name, _ in wanted})
    return written
