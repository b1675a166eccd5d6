"""The audit archive: the audit table's stream, shipped to an S3 bucket under Object Lock.

One object per stream batch, in JSON lines (one stream record a line, images as plain JSON).
Its key is made of the batch's first and last sequence numbers, so a retried batch (Lambda
retries a failed batch whole, or halved) maps to the same key, and the write is conditional
(If-None-Match: *): archiving the same batch twice stores it once.

    audit/<UTC date of the first record>/<stream label>/<first seq>-<last seq>.jsonl

Sequence numbers are zero-padded to their maximum length (40 digits), so a listing is in
stream order.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from kefu.aws import client

PREFIX = "audit"
SEQUENCE_DIGITS = 40  # DynamoDB Streams sequence numbers have 21 to 40 digits


@dataclass(frozen=True)
class ArchivedBatch:
    key: str
    records: int
    written: bool  # False: the object was already there (a retried batch)


def batch_key(records: list[dict[str, Any]]) -> str:
    """The object key of a batch (records in stream order, as Lambda delivers them)."""
    first, last = records[0], records[-1]
    created = float(first["dynamodb"].get("ApproximateCreationDateTime") or 0)
    day = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d")
    label = _stream_label(str(first.get("eventSourceARN", "")))
    return f"{PREFIX}/{day}/{label}/{_sequence(first)}-{_sequence(last)}.jsonl"


def to_line(record: dict[str, Any]) -> dict[str, Any]:
    """One stream record as archived: what happened, when, and the item before and after."""
    change = record["dynamodb"]
    return {
        "event_id": record.get("eventID"),
        "event_name": record.get("eventName"),
        "sequence_number": change["SequenceNumber"],
        "approximate_creation_time": change.get("ApproximateCreationDateTime"),
        "keys": _plain_item(change.get("Keys")),
        "new_image": _plain_item(change.get("NewImage")),
        "old_image": _plain_item(change.get("OldImage")),
    }


def archive_batch(records: list[dict[str, Any]], *, bucket: str) -> ArchivedBatch | None:
    """Write `records` (one Lambda stream batch) as one object; None for an empty batch."""
    if not records:
        return None
    key = batch_key(records)
    body = "".join(
        json.dumps(to_line(r), ensure_ascii=False, separators=(",", ":"), default=_json_default)
        + "\n"
        for r in records
    ).encode("utf-8")
    try:
        client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            # Object Lock buckets require an integrity checksum on every write.
            ChecksumAlgorithm="SHA256",
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            return ArchivedBatch(key, len(records), written=False)
        raise  # 409 ConditionalRequestConflict included: Lambda retries the batch
    return ArchivedBatch(key, len(records), written=True)


# --------------------------------------------------------------------------------------------


def _sequence(record: dict[str, Any]) -> str:
    number = str(record["dynamodb"]["SequenceNumber"])
    if not number.isdigit():
        raise ValueError(f"stream record without a numeric sequence number: {number!r}")
    return number.zfill(SEQUENCE_DIGITS)


def _stream_label(stream_arn: str) -> str:
    """The stream's label (the last ARN segment, a timestamp), safe in a key."""
    label = stream_arn.rsplit("/", 1)[-1] if "/stream/" in stream_arn else "stream"
    return re.sub(r"[^0-9A-Za-z._-]", "-", label)


def _plain_item(image: dict[str, Any] | None) -> dict[str, Any] | None:
    if image is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer  # in the Lambda runtime, not the layer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in image.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "value") and isinstance(value.value, bytes | bytearray):  # boto3 Binary
        return base64.b64encode(bytes(value.value)).decode("ascii")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
