"""SegmentsTable: saved segments, and the segment index (docs/segments.md).

pk = shop_id, sk = "SEGMENT#<segment_id>"      a saved segment: definition, cached count, its age
pk = "<shop>#CATALOG#<0-31>", sk = "INDEXES"   `names`: index names that ever had a bitmap (the
                                                 rebuild finds stale bitmaps by key through it)
pk = "<shop>#NUMBERS", sk = "COUNTER"           `next`: the shop's next dense customer number;
                                                 the index maintainer takes a block per batch (ADD)
pk = "<shop>#NUM#<block>", sk = "IDS"           reverse map number -> customer_id for numbers
                                                 block*256 .. block*256+255, one attribute
                                                 "n<number>" each (SET/REMOVE: idempotent, no
                                                 read-modify-write)
pk = "<shop>#IX#<index>#<chunk>", sk = "BITS"   one roaring bitmap (`bits`, serialized) of one
                                                 index (a tag, a tier, a BSI slice...) over the
                                                 customer numbers chunk*65536 .. +65535; `version`
                                                 for the optimistic read-modify-write

Every index item is its own partition key, so writes spread; the maintainer writes each item at
most once per stream batch. Access: bitmaps and reverse-map blocks by key (BatchGetItem), saved
segments by key or one Query on the shop's partition. Never a Scan.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from kefu.aws import client
from kefu.storage.base import KefuModel, table_name
from kefu.storage.customers import CUSTOMER_PREFIX, Customer

SEGMENTS_TABLE = table_name("SEGMENTS_TABLE", "kefu-segments")
SEGMENT_PREFIX = "SEGMENT#"
CHUNK_BITS = 16
CHUNK_SIZE = 1 << CHUNK_BITS  # one roaring container: a bitmap item is at most ~8 KB
REVERSE_BLOCK = 256
_BATCH_GET = 100  # BatchGetItem's limit per request
CATALOG_SHARDS = 32  # catalog items per shop: ~32 x 400 KB of index names
_PER_UPDATE = 100  # reverse-map attributes per UpdateItem (expressions are at most 4 KB)
_PROJECTED = 100  # a page's numbers: fetch just their attributes


def _table() -> str:
    return os.environ.get(SEGMENTS_TABLE.env_var, SEGMENTS_TABLE.default)


class Segment(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = SEGMENTS_TABLE

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    definition = JSONAttribute()
    cached_count = NumberAttribute(null=True)
    counted_at = NumberAttribute(null=True)
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute()

    @staticmethod
    def key(segment_id: str) -> str:
        return f"{SEGMENT_PREFIX}{segment_id}"


def saved_definition(shop_id: str, segment_id: str) -> dict[str, Any]:
    """A saved segment's filter (the API's 404 `segment_not_found` when there is none)."""
    segment = Segment.get_or_404(
        shop_id,
        Segment.key(segment_id),
        message=f"no segment {segment_id!r}",
        code="segment_not_found",
    )
    return dict(segment.definition)


# --- bitmaps ---------------------------------------------------------------------------------


def bitmap_key(shop_id: str, index: str, chunk: int) -> dict[str, Any]:
    return {"pk": {"S": f"{shop_id}#IX#{index}#{chunk}"}, "sk": {"S": "BITS"}}


def _index_of(pk: str, shop_id: str) -> tuple[str, int]:
    index, _, chunk = pk[len(shop_id) + 4 :].rpartition("#")
    return index, int(chunk)


def _batch_get(
    keys: list[dict[str, Any]],
    *,
    consistent: bool,
    projection: str | None = None,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every item of `keys` that exists (BatchGetItem by 100, unprocessed keys retried)."""
    ddb = client("dynamodb")
    table = _table()
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), _BATCH_GET):
        request: dict[str, Any] = {
            "Keys": keys[start : start + _BATCH_GET],
            "ConsistentRead": consistent,
        }
        if projection:
            request["ProjectionExpression"] = projection
            if names:
                request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        while pending:
            response = ddb.batch_get_item(RequestItems=pending)
            items.extend(response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
    return items


def read_bitmaps(
    shop_id: str, wanted: Iterable[tuple[str, int]], *, consistent: bool = False
) -> dict[tuple[str, int], tuple[bytes, int]]:
    """(index, chunk) -> (serialized bitmap, version) for the items that exist."""
    keys = [bitmap_key(shop_id, index, chunk) for index, chunk in dict.fromkeys(wanted)]
    found = {}
    for item in _batch_get(keys, consistent=consistent):
        found[_index_of(item["pk"]["S"], shop_id)] = (
            bytes(item["bits"]["B"]),
            int(item["version"]["N"]),
        )
    return found


def write_bitmap(shop_id: str, index: str, chunk: int, bits: bytes, version: int) -> bool:
    """Replace one bitmap if it is still at `version` (0: absent), as version + 1. An emptied
    bitmap is written empty, never deleted: versions only grow, so a writer holding an old
    version can never match a re-created item (no ABA). False when another writer got there
    first (re-read and re-apply)."""
    ddb = client("dynamodb")
    key = bitmap_key(shop_id, index, chunk)
    condition = "version = :v" if version else "attribute_not_exists(pk)"
    values = {":v": {"N": str(version)}} if version else None
    try:
        ddb.put_item(
            TableName=_table(),
            Item={**key, "bits": {"B": bits}, "version": {"N": str(version + 1)}},
            ConditionExpression=condition,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _catalog_key(shop_id: str, shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"{shop_id}#CATALOG#{shard}"}, "sk": {"S": "INDEXES"}}


def _catalog_shard(name: str) -> int:
    return zlib.crc32(name.encode()) % CATALOG_SHARDS


def register_indexes(shop_id: str, names: Iterable[str]) -> None:
    """Remember index names that got their first item (string sets, ADD: idempotent), so a
    rebuild can find and clear stale bitmaps by key. Written only when a bitmap is created;
    spread over CATALOG_SHARDS items so a shop with many distinct attribute values stays far
    below the item size limit."""
    by_shard: dict[int, list[str]] = {}
    for name in sorted(set(names)):
        by_shard.setdefault(_catalog_shard(name), []).append(name)
    for shard, part in sorted(by_shard.items()):
        client("dynamodb").update_item(
            TableName=_table(),
            Key=_catalog_key(shop_id, shard),
            UpdateExpression="ADD #n :s",
            ExpressionAttributeNames={"#n": "names"},
            ExpressionAttributeValues={":s": {"SS": part}},
        )


def known_indexes(shop_id: str) -> set[str]:
    """Every index name the shop's bitmaps ever had (one BatchGetItem of the catalog)."""
    items = _batch_get(
        [_catalog_key(shop_id, shard) for shard in range(CATALOG_SHARDS)], consistent=True
    )
    return {name for item in items for name in item["names"]["SS"]}


# --- customer numbers --------------------------------------------------------------------------


def _counter_key(shop_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{shop_id}#NUMBERS"}, "sk": {"S": "COUNTER"}}


def allocate_numbers(shop_id: str, count: int) -> range:
    """A block of `count` fresh numbers: one ADD per batch, so the counter is never hot."""
    response = client("dynamodb").update_item(
        TableName=_table(),
        Key=_counter_key(shop_id),
        UpdateExpression="ADD #n :k",
        ExpressionAttributeNames={"#n": "next"},
        ExpressionAttributeValues={":k": {"N": str(count)}},
        ReturnValues="UPDATED_NEW",
    )
    end = int(response["Attributes"]["next"]["N"])
    return range(end - count, end)


def numbers_in_use(shop_id: str) -> int:
    """How many numbers the shop has handed out (so which chunks exist): one GetItem."""
    item = client("dynamodb").get_item(TableName=_table(), Key=_counter_key(shop_id)).get("Item")
    return int(item["next"]["N"]) if item else 0


def claim_number(shop_id: str, customer_id: str, number: int) -> int | None:
    """Give the customer `number` unless they already have one (then that one); None when the
    customer item is gone. Conditional, so a replayed batch never renumbers anyone."""
    customer = Customer(shop_id, Customer.key(customer_id))
    try:
        customer.update(
            actions=[Customer.number.set(number)],
            condition=Customer.sk.exists() & Customer.number.does_not_exist(),
        )
        return number
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    return current_number(shop_id, customer_id)


def current_number(shop_id: str, customer_id: str) -> int | None:
    """The customer's number as stored (None: none yet, or no such customer)."""
    try:
        current = Customer.get(
            shop_id,
            Customer.key(customer_id),
            consistent_read=True,
            attributes_to_get=["number"],
        )
    except Customer.DoesNotExist:
        return None
    return int(current.number) if current.number is not None else None


def _block_key(shop_id: str, block: int) -> dict[str, Any]:
    return {"pk": {"S": f"{shop_id}#NUM#{block}"}, "sk": {"S": "IDS"}}


def write_reverse(shop_id: str, entries: dict[int, str | None]) -> None:
    """number -> customer_id (None removes it): UpdateItems per block touched, at most
    _PER_UPDATE numbers each (the expression's size limit)."""
    by_block: dict[int, list[tuple[int, str | None]]] = {}
    for number, customer_id in sorted(entries.items()):
        by_block.setdefault(number // REVERSE_BLOCK, []).append((number, customer_id))
    ddb = client("dynamodb")
    for block, changes in sorted(by_block.items()):
        for start in range(0, len(changes), _PER_UPDATE):
            part = changes[start : start + _PER_UPDATE]
            names = {f"#a{i}": f"n{n}" for i, (n, _) in enumerate(part)}
            values = {f":v{i}": {"S": cid} for i, (_, cid) in enumerate(part) if cid is not None}
            sets = [f"#a{i} = :v{i}" for i, (_, cid) in enumerate(part) if cid is not None]
            removes = [f"#a{i}" for i, (_, cid) in enumerate(part) if cid is None]
            clauses = [f"SET {', '.join(sets)}"] if sets else []
            clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
            ddb.update_item(
                TableName=_table(),
                Key=_block_key(shop_id, block),
                UpdateExpression=" ".join(clauses),
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
            )


def put_reverse_blocks(shop_id: str, entries: dict[int, str]) -> None:
    """Replace whole blocks of the reverse map (the rebuild): one PutItem per block."""
    by_block: dict[int, dict[int, str]] = {}
    for number, customer_id in entries.items():
        by_block.setdefault(number // REVERSE_BLOCK, {})[number] = customer_id
    ddb = client("dynamodb")
    for block, ids in sorted(by_block.items()):
        item = {**_block_key(shop_id, block), **{f"n{n}": {"S": c} for n, c in ids.items()}}
        ddb.put_item(TableName=_table(), Item=item)


def read_reverse(shop_id: str, numbers: list[int]) -> dict[int, str]:
    """customer_id of each number (those still mapped): one BatchGetItem of the blocks they
    fall in, projected to just those numbers' attributes."""
    if not numbers:
        return {}
    blocks = sorted({n // REVERSE_BLOCK for n in numbers})
    keys = [_block_key(shop_id, b) for b in blocks]
    if len(numbers) <= _PROJECTED:
        names = {f"#a{i}": f"n{n}" for i, n in enumerate(numbers)}
        items = _batch_get(keys, consistent=False, projection=", ".join(names), names=names)
    else:  # whole blocks (members(): every number of the blocks is wanted anyway)
        items = _batch_get(keys, consistent=False)
    out: dict[int, str] = {}
    for item in items:
        for n in numbers:
            value = item.get(f"n{n}")
            if value:
                out[n] = value["S"]
    return out


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer  # deferred: only these reads need it

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def _customers_table() -> str:
    return str(Customer.Meta.table_name)


def read_customers(shop_id: str, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The customer items by id, every attribute (whichever part of kefu wrote it), by
    BatchGetItem."""
    ddb = client("dynamodb")
    table = _customers_table()
    keys = [
        {"pk": {"S": shop_id}, "sk": {"S": Customer.key(cid)}}
        for cid in dict.fromkeys(customer_ids)
    ]
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), _BATCH_GET):
        pending: dict[str, Any] = {table: {"Keys": keys[start : start + _BATCH_GET]}}
        while pending:
            response = ddb.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(table, []):
                plain = _plain(item)
                out[plain["customer_id"]] = plain
            pending = response.get("UnprocessedKeys") or {}
    return out


def shop_customers(shop_id: str) -> Iterator[dict[str, Any]]:
    """Every customer item of one shop, every attribute: a paginated Query over its partition
    (the index rebuild; never a Scan)."""
    paginator = client("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=_customers_table(),
        KeyConditionExpression="pk = :shop AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":shop": {"S": shop_id}, ":prefix": {"S": CUSTOMER_PREFIX}},
    )
    for page in pages:
        for item in page.get("Items", []):
            yield _plain(item)
