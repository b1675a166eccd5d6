"""Segments (docs/segments.md): boolean filters over a shop's customers, evaluated through the
segment index (dense customer numbers, roaring bitmaps per value, bit-sliced indexes for
ranges), kept in step from the CustomersTable's stream.

- `filters`    the definition language (msgspec Structs), its limits and its evaluation
- `features`   what of a customer item the index holds
- `bsi`        bit-sliced index arithmetic (exact ranges, top-k)
- `query`      the engine: `query.page(shop_id, filter, sort, cursor, limit)`, counts
- `maintainer` the stream consumer's work; `rebuild` the backfill by Query
- `admin`      saved segments and the preview, for the HTTP handlers

`members(shop_id, segment_id)` yields the customer ids of a saved segment (bulk tagging and
jobs call it); `membership(shop_id, customer_image, segment_ids)` says which saved segments hold
one customer (quick replies scoped to segments).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any


def members(shop_id: str, segment_id: str) -> Iterator[str]:
    """The customer ids of a saved segment, evaluated now, in customer-number order."""
    from kefu.segments import admin, query

    segment = admin.get_segment(shop_id, segment_id)
    yield from query.member_ids(shop_id, query.matching(shop_id, segment.definition))


def membership(
    shop_id: str, customer_image: Mapping[str, Any], segment_ids: Iterable[str]
) -> set[str]:
    """Which of the saved segments `segment_ids` hold this customer, judged from the customer's
    item as it is now (`customer_image`: its attributes by stored name, as the stream carries
    them), so one BatchGetItem of the definitions and no index read: the customer's own index
    names stand in for the bitmaps, each a one-member set. A segment that does not exist holds
    no one."""
    from pyroaring import BitMap

    from kefu.ids import now_ms
    from kefu.segments.features import features
    from kefu.segments.filters import evaluate
    from kefu.segments.query import as_filter
    from kefu.storage.segments import Segment

    wanted = sorted(set(segment_ids))
    if not wanted:
        return set()
    present = features(customer_image)
    one, empty = BitMap([0]), BitMap()

    def bitmap(name: str) -> BitMap:
        return one if name in present else empty

    at = now_ms()
    held = set()
    for segment in Segment.batch_get([(shop_id, Segment.key(s)) for s in wanted]):
        filter_ = as_filter(segment.definition)
        if filter_ is not None and 0 in evaluate(filter_, bitmap, at):
            held.add(segment.segment_id)
    return held
