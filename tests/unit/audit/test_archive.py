"""Specification: the audit table's stream lands in the archive bucket as one JSON-lines object
per batch, keyed by the batch's sequence numbers, and a retried batch is stored once."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from kefu.audit import staff_change
from kefu.audit.archive import archive_batch, batch_key
from moto import mock_aws

from infra.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[3]
BUCKET = "kefu-test-audit-archive"
STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/kefu-audit/stream/2026-01-02T03:04:05.678"
)


class _Actor:
    shop_id, actor_id, role = "shop-a", "staff:owner1", "owner"


def _stream_record(seq: int, item: dict, event: str = "INSERT", old: dict | None = None) -> dict:
    """A DynamoDB stream record as Lambda delivers it, built from a real AuditRecord's item."""
    change = {
        "ApproximateCreationDateTime": 1767323045.0 + seq,
        "Keys": {"pk": item["pk"], "sk": item["sk"]},
        "SequenceNumber": str(111000000000000000000 + seq),
        "SizeBytes": 200,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event != "REMOVE":
        change["NewImage"] = item
    if old is not None:
        change["OldImage"] = old
    return {
        "eventID": f"ev{seq}",
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "eventSourceARN": STREAM_ARN,
        "dynamodb": change,
    }


def _audit_item(action: str) -> dict:
    record = staff_change(
        _Actor(), action=action, target_type="staff", target_id="agent1", after={"role": "agent"}
    )
    return record.serialize()


@pytest.fixture
def s3():
    with mock_aws():
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        from kefu import aws

        aws.client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        yield s3
        aws.client.cache_clear()


def _objects(s3) -> dict[str, list[dict]]:
    found = {}
    for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read().decode("utf-8")
        found[entry["Key"]] = [json.loads(line) for line in body.splitlines()]
    return found


def test_a_batch_becomes_one_json_lines_object_keyed_by_its_first_and_last_sequence(s3):
    records = [_stream_record(i, _audit_item(f"staff.change{i}")) for i in range(1, 4)]
    batch = archive_batch(records, bucket=BUCKET)
    assert batch is not None and batch.written and batch.records == 3
    objects = _objects(s3)
    assert list(objects) == [batch.key]
    first, last = "111000000000000000001".zfill(40), "111000000000000000003".zfill(40)
    assert batch.key == f"audit/2026-01-02/2026-01-02T03-04-05.678/{first}-{last}.jsonl"
    lines = objects[batch.key]
    assert [line["new_image"]["action"] for line in lines] == [
        "staff.change1",
        "staff.change2",
        "staff.change3",
    ]
    # Images are plain JSON: numbers are numbers, the actor and target are readable.
    assert isinstance(lines[0]["new_image"]["at"], int)
    assert lines[0]["new_image"]["actor"] == "staff:owner1"
    assert lines[0]["keys"]["pk"] == "shop-a"
    assert lines[0]["event_name"] == "INSERT" and lines[0]["old_image"] is None


def test_a_retried_batch_is_stored_once(s3):
    records = [_stream_record(i, _audit_item("staff.role_changed")) for i in (7, 8)]
    first = archive_batch(records, bucket=BUCKET)
    again = archive_batch(records, bucket=BUCKET)
    assert first.written and not again.written and first.key == again.key
    versions = s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
    assert len(versions) == 1, "a retry must not add a version"


def test_a_removal_is_archived_with_the_item_it_removed(s3):
    item = _audit_item("staff.disabled")
    archive_batch([_stream_record(9, item, event="REMOVE", old=item)], bucket=BUCKET)
    (lines,) = _objects(s3).values()
    assert lines[0]["event_name"] == "REMOVE"
    assert lines[0]["new_image"] is None
    assert lines[0]["old_image"]["action"] == "staff.disabled"


def test_an_empty_batch_writes_nothing(s3):
    assert archive_batch([], bucket=BUCKET) is None
    assert _objects(s3) == {}


def test_a_batch_that_cannot_be_written_raises_so_lambda_retries_it(s3):
    records = [_stream_record(1, _audit_item("staff.created"))]
    with pytest.raises(ClientError):
        archive_batch(records, bucket="no-such-bucket")


def test_keys_sort_in_stream_order_whatever_the_sequence_numbers_length():
    short = [_stream_record(0, _audit_item("a"))]
    short[0]["dynamodb"]["SequenceNumber"] = "9" * 21
    long = [_stream_record(0, _audit_item("a"))]
    long[0]["dynamodb"]["SequenceNumber"] = "1" + "0" * 21
    assert batch_key(short) < batch_key(long)


def test_the_handler_archives_the_event_records_into_the_configured_bucket(s3, monkeypatch):
    from tests.unit.functions.conftest import LambdaContext

    props = load_yaml(ROOT / "template.yaml")["Resources"]["AuditArchiverFunction"]["Properties"]
    module, _, attribute = props["Handler"].rpartition(".")
    spec = importlib.util.spec_from_file_location(
        "kefu_audit_archiver_app", ROOT / props["CodeUri"] / f"{module}.py"
    )
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setenv("AUDIT_ARCHIVE_BUCKET", BUCKET)
    result = getattr(app, attribute)(
        {"Records": [_stream_record(5, _audit_item("staff.created"))]},
        LambdaContext("audit_archiver"),
    )
    assert result["records"] == 1 and result["written"] is True
    assert list(_objects(s3)) == [result["key"]]
