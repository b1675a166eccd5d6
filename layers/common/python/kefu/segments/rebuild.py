"""Rebuilding a shop's segment index from its customer items (docs/segments.md): for a shop
whose customers predate the index, after a restore, or to repair one. A paginated Query over the
shop's partition (never a Scan); customers without a number get one (the same conditional claim
the stream maintainer uses); every bitmap is computed in memory and written over the stored one
through the same writer. `python -m kefu.segments.rebuild SHOP` runs it.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyroaring import BitMap

from kefu.segments.features import features, is_live
from kefu.segments.maintainer import replace_bitmaps
from kefu.storage import segments as store


def build_bitmaps(
    numbered: Iterable[tuple[int, Mapping[str, Any]]],
) -> dict[tuple[str, int], BitMap]:
    """(index, chunk) -> bitmap for customers given as (number, item attributes)."""
    maps: dict[tuple[str, int], BitMap] = defaultdict(BitMap)
    for number, image in numbered:
        chunk = number // store.CHUNK_SIZE
        for name in features(image):
            maps[(name, chunk)].add(number)
    return dict(maps)


def rebuild(shop_id: str) -> dict[str, int]:
    """Recompute and store the shop's whole index; returns what it did."""
    numbered: list[tuple[int, dict[str, Any]]] = []
    unnumbered: list[tuple[str, dict[str, Any]]] = []
    for image in store.shop_customers(shop_id):
        if image.get("number") is not None:
            numbered.append((int(image["number"]), image))
        elif is_live(image):
            unnumbered.append((image["customer_id"], image))
    if unnumbered:
        block = store.allocate_numbers(shop_id, len(unnumbered))
        for (customer_id, image), candidate in zip(unnumbered, block, strict=True):
            number = store.claim_number(shop_id, customer_id, candidate)
            if number is not None:
                numbered.append((number, image))
    written = store_index(shop_id, numbered)
    return {"customers": len(numbered), "numbered": len(unnumbered), "items_written": written}


def store_index(shop_id: str, numbered: Sequence[tuple[int, Mapping[str, Any]]]) -> int:
    """Write the whole index of these numbered customers (bitmaps and the reverse map) over
    what is stored; returns the bitmap items written."""
    written = replace_bitmaps(shop_id, build_bitmaps(numbered))
    store.put_reverse_blocks(
        shop_id, {n: image["customer_id"] for n, image in numbered if is_live(image)}
    )
    return written


if __name__ == "__main__":  # pragma: no cover - operator's entry point
    for shop in sys.argv[1:]:
        print(shop, rebuild(shop))
