"""Specification: the bit-sliced index answers range comparisons and top-k exactly — checked
against brute force over random values and bounds."""

from hypothesis import given, settings
from hypothesis import strategies as st
from kefu.segments import bsi
from pyroaring import BitMap

BITS = 12


def build(values: dict[int, int]) -> tuple[dict[int, BitMap], BitMap]:
    slices: dict[int, BitMap] = {}
    for number, value in values.items():
        for b in bsi.slice_bits(value, BITS):
            slices.setdefault(b, BitMap()).add(number)
    return slices, BitMap(values)


values_st = st.dictionaries(st.integers(0, 200_000), st.integers(0, (1 << BITS) - 1), max_size=300)
bound = st.one_of(st.none(), st.integers(-5, (1 << BITS) + 5))


@settings(max_examples=300, deadline=None)
@given(values=values_st, gte=bound, lt=bound)
def test_a_range_is_exactly_the_brute_force_filter(values, gte, lt):
    slices, exists = build(values)
    got = bsi.in_range(slices, exists, BITS, gte=gte, lt=lt)
    expected = {
        n for n, v in values.items() if (gte is None or v >= gte) and (lt is None or v < lt)
    }
    assert set(got) == expected


@settings(max_examples=200, deadline=None)
@given(values=values_st, constant=st.integers(-3, (1 << BITS) + 3))
def test_compare_splits_every_number_into_less_equal_greater(values, constant):
    slices, exists = build(values)
    lt, eq, gt = bsi.compare(slices, exists, BITS, constant)
    assert set(lt) == {n for n, v in values.items() if v < constant}
    assert set(eq) == {n for n, v in values.items() if v == constant}
    assert set(gt) == {n for n, v in values.items() if v > constant}


@settings(max_examples=200, deadline=None)
@given(values=values_st, k=st.integers(0, 40))
def test_top_k_is_the_k_largest_ties_to_the_newest(values, k):
    slices, exists = build(values)
    got = bsi.top_k(slices, BITS, exists, k)
    expected = sorted(values, key=lambda n: (-values[n], -n))[:k]
    assert set(got) == set(expected)
    assert all(bsi.value_of(slices, BITS, n) == values[n] for n in got)


def test_values_beyond_the_width_are_clamped_to_the_largest():
    assert bsi.slice_bits(1 << BITS, BITS) == list(range(BITS))
    assert bsi.slice_bits(-4, BITS) == []
