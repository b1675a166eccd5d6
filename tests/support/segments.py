"""Building blocks for the segment tests: customer items, the CustomersTable stream records
their writes would produce, and a brute-force filter to check the index against."""

from __future__ import annotations

import itertools
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from kefu.storage.customers import Customer

_serializer = TypeSerializer()
_sequence = itertools.count(1_000)


def item(shop_id: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    """A customer item's attributes as the table holds them."""
    return {
        "pk": shop_id,
        "sk": Customer.key(customer_id),
        "customer_id": customer_id,
        "created_at": 1_700_000_000_000,
        "tier": "regular",
        **fields,
    }


def _image(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: _serializer.serialize(v) for k, v in value.items() if v is not None}


def record(
    old: dict[str, Any] | None, new: dict[str, Any] | None, *, sequence: int | None = None
) -> dict[str, Any]:
    """The stream record of one write (INSERT, MODIFY or REMOVE) of a customer item."""
    base = new or old
    assert base is not None
    seq = sequence if sequence is not None else next(_sequence)
    ddb: dict[str, Any] = {
        "Keys": {"pk": {"S": base["pk"]}, "sk": {"S": base["sk"]}},
        "SequenceNumber": str(seq),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        ddb["OldImage"] = _image(old)
    if new is not None:
        ddb["NewImage"] = _image(new)
    name = "MODIFY" if old and new else ("INSERT" if new else "REMOVE")
    return {
        "eventID": f"ev-{seq}",
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "dynamodb": ddb,
    }


def save(value: dict[str, Any]) -> None:
    """Write the item to the table too (the maintainer sets its number there)."""
    import os

    import boto3

    boto3.client("dynamodb").put_item(
        TableName=os.environ["CUSTOMERS_TABLE"], Item=_image(value) or {}
    )
