"""Bit-sliced indexes (O'Neil & Quass) over roaring bitmaps: exact range comparisons and top-k
on integer values, reading one bitmap per bit plus one of "has a value".

A field of `bits` bits is stored as slices[i] = numbers whose value has bit i set, and `exists`
= numbers that have a value. A comparison with a constant walks the bits from the top, keeping
the numbers still equal to the constant's prefix; so `value >= c` is exact for any c.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyroaring import BitMap

EMPTY = BitMap()


def slice_bits(value: int, bits: int) -> list[int]:
    """Which slices hold a value (values are clamped into 0 .. 2**bits - 1)."""
    value = max(0, min(value, (1 << bits) - 1))
    return [i for i in range(bits) if value >> i & 1]


def compare(
    slices: Mapping[int, BitMap], exists: BitMap, bits: int, constant: int
) -> tuple[BitMap, BitMap, BitMap]:
    """(less than, equal to, greater than) `constant`, among `exists`."""
    if constant < 0:
        return BitMap(), BitMap(), exists.copy()
    if constant >> bits:
        return exists.copy(), BitMap(), BitMap()
    lt, gt, eq = BitMap(), BitMap(), exists.copy()
    for i in reversed(range(bits)):
        s = slices.get(i, EMPTY)
        if constant >> i & 1:
            lt |= eq - s
            eq &= s
        else:
            gt |= eq & s
            eq -= s
    return lt, eq, gt


def in_range(
    slices: Mapping[int, BitMap],
    exists: BitMap,
    bits: int,
    *,
    gte: int | None = None,
    lt: int | None = None,
) -> BitMap:
    """Numbers whose value v has gte <= v < lt (either bound optional)."""
    result = exists.copy()
    if gte is not None:
        below, _, _ = compare(slices, exists, bits, gte)
        result -= below
    if lt is not None:
        below, _, _ = compare(slices, exists, bits, lt)
        result &= below
    return result


def value_of(slices: Mapping[int, BitMap], bits: int, number: int) -> int:
    return sum(1 << i for i in range(bits) if number in slices.get(i, EMPTY))


def top_k(slices: Mapping[int, BitMap], bits: int, candidates: BitMap, k: int) -> BitMap:
    """The k candidates with the largest values; among equal values at the cut, the highest
    numbers (the newest customers), so paging in (value desc, number desc) order is exact."""
    if k <= 0:
        return BitMap()
    if len(candidates) <= k:
        return candidates.copy()
    greater, equal = BitMap(), candidates
    for i in reversed(range(bits)):
        with_bit = equal & slices.get(i, EMPTY)
        taken = len(greater) + len(with_bit)
        if taken > k:
            equal = with_bit
        elif taken == k:
            return greater | with_bit
        else:
            greater |= with_bit
            equal = equal - with_bit
    need = k - len(greater)
    return greater | BitMap(equal[len(equal) - need :])
