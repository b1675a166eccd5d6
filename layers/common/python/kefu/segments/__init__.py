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
jobs call it).
"""

from __future__ import annotations

from collections.abc import Iterator


def members(shop_id: str, segment_id: str) -> Iterator[str]:
    """The customer ids of a saved segment, evaluated now, in customer-number order."""
    from kefu.segments import admin, query

    segment = admin.get_segment(shop_id, segment_id)
    yield from query.member_ids(shop_id, query.matching(shop_id, segment.definition))
