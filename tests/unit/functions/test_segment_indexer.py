"""Specification: the segment indexer function applies a CustomersTable stream batch to the index
and reports what it did; the sample event in events/segment_indexer is such a batch."""

import json
from pathlib import Path

from kefu.segments import query
from kefu.storage import segments as store
from pyroaring import BitMap

from tests.support.segments import item, record, save

ROOT = Path(__file__).resolve().parents[3]


def test_a_batch_of_stream_records_reaches_the_index(kefu_env, function_module):
    handler = function_module("SegmentIndexerFunction").handler
    vip = item("demo", "cus_1", tags=["tag_vip"])
    save(vip)
    result = handler({"Records": [record(None, vip)]}, _context())
    assert (result["records"], result["customers"], result["numbered"]) == (1, 1, 1)
    assert query.count("demo", {"tag": {"in": ["tag_vip"]}}) == 1


def test_the_sample_event_is_a_batch_the_function_takes(kefu_env, function_module):
    handler = function_module("SegmentIndexerFunction").handler
    sample = json.loads((ROOT / "events/segment_indexer/customer_tagged.json").read_text())
    result = handler(sample, _context())
    assert (result["records"], result["customers"]) == (1, 1)
    stored = store.read_bitmaps("demo", [("tag:tag_vip", 0), ("spend:e", 0)])
    assert {name: list(BitMap.deserialize(raw)) for (name, _), (raw, _) in stored.items()} == {
        "tag:tag_vip": [0],
        "spend:e": [0],
    }


def _context():
    from tests.unit.functions.conftest import LambdaContext

    return LambdaContext("segment_indexer")
