"""Specification: the segment definition language — nested AND/OR/NOT over conditions, refused
with a code a developer can act on when it is too deep, too large or malformed."""

import json

import msgspec
import pytest
from kefu.errors import BadRequest
from kefu.segments.admin import SegmentPreview
from kefu.segments.filters import MAX_CONDITIONS, MAX_DEPTH, Filter, check, decode_filter_json


def nested(depth: int) -> dict:
    node: dict = {"tag": {"in": ["vip"]}}
    for i in range(depth - 1):
        node = {"not": node} if i % 2 else {"and": [node]}
    return node


def decode(body: dict) -> SegmentPreview:
    return decode_filter_json(json.dumps(body).encode(), SegmentPreview, max_bytes=64_000)


def code_of(fn, *args) -> str:
    with pytest.raises(BadRequest) as err:
        fn(*args)
    return err.value.code


def test_a_filter_nested_100_deep_is_a_400_filter_too_deep_before_decoding():
    assert code_of(decode, {"filter": nested(100)}) == "filter_too_deep"


def test_a_filter_nested_thousands_deep_is_refused_too_not_a_recursion_error():
    body = b'{"filter":' + b'{"not":' * 50_000 + b'{"tier":{"in":["a"]}}' + b"}" * 50_001
    with pytest.raises(BadRequest) as err:
        decode_filter_json(body, SegmentPreview, max_bytes=4_000_000)
    assert err.value.code == "filter_too_deep"


def test_depth_is_counted_in_filter_levels():
    check(msgspec.convert(nested(MAX_DEPTH), Filter))
    assert code_of(check, msgspec.convert(nested(MAX_DEPTH + 1), Filter)) == "filter_too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = {"filter": {"tag": {"in": ["[[[[{{{{" * 20]}}}
    assert decode(body).filter.tag.in_ == ["[[[[{{{{" * 20]


def test_too_many_conditions_is_filter_too_large():
    wide = {"or": [{"tier": {"in": [f"t{i}"]}} for i in range(MAX_CONDITIONS + 1)]}
    assert code_of(check, msgspec.convert(wide, Filter)) == "filter_too_large"


@pytest.mark.parametrize(
    "node",
    [
        {},
        {"tag": {"in": ["a"]}, "tier": {"in": ["b"]}},
        {"and": []},
        {"tier": {"all": ["a"]}},
        {"tag": {"in": []}},
        {"spend": {}},
        {"spend": {"gte": 1, "exists": False}},
    ],
)
def test_malformed_nodes_are_invalid_filter(node):
    assert code_of(check, msgspec.convert(node, Filter)) == "invalid_filter"


def test_unknown_fields_and_wrong_types_are_validation_errors():
    assert code_of(decode, {"filter": {"colour": {"in": ["red"]}}}) == "validation_error"
    assert code_of(decode, {"filter": {"spend": {"gte": "lots"}}}) == "validation_error"
    assert code_of(decode, {"filter": {"last_contact": {"within_days": -1}}}) == "validation_error"


def test_every_condition_kind_decodes():
    body = {
        "filter": {
            "or": [
                {"tag": {"all": ["a", "b"]}},
                {"lifecycle_stage": {"in": ["repeat"]}},
                {"channel": {"in": ["wechat"]}},
                {"region": {"in": ["广东省"]}},
                {"owner_agent": {"in": ["alice"]}},
                {"orders_count": {"gt": 2, "lte": 9}},
                {"last_purchase": {"from": "2026-01-01", "to": "2026-01-31"}},
                {"last_contact": {"more_than_days": 30}},
                {"attribute": {"id": "size", "in": ["M", 42, True]}},
            ]
        },
        "sort": "spend",
    }
    preview = decode(body)
    check(preview.filter)
    assert msgspec.to_builtins(preview.filter) == body["filter"]
