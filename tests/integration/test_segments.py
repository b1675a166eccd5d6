"""Integration: the segment index follows the customers table's stream on the local stack — a
customer's tag or custom attribute changes (written to the customer item, as the tags and
profiles parts do) and the segment's count follows, with no call to the index."""

from __future__ import annotations

import os

import boto3
from kefu.customers import WECHAT_OPENID, Identity, find_identity
from kefu.storage.customers import Customer

from tests.integration.kefu_http import Api, StandIn, unique, wait_for


def _set(customer_id: str, expression: str, values: dict) -> None:
    boto3.client("dynamodb").update_item(
        TableName=os.environ["CUSTOMERS_TABLE"],
        Key={"pk": {"S": "demo"}, "sk": {"S": Customer.key(customer_id)}},
        UpdateExpression=expression,
        ExpressionAttributeValues=values,
    )


def test_a_tag_and_an_attribute_change_move_the_segment_count(api: Api, owner: str):
    api.customer_login("demo", "xiaohong")
    customer_id = find_identity(
        "demo", Identity(WECHAT_OPENID, StandIn.openid("demo", "xiaohong"))
    ).customer_id
    tag = unique("segtag")
    by_tag = {"filter": {"tag": {"in": [tag]}}}

    def preview_count(body: dict) -> int:
        answer = api.post("/v1/segments/preview", owner, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["count"]

    # The demo customers reach the index through the stream (read from its start).
    everyone_else = {"filter": {"not": {"tag": {"in": [tag]}}}}
    wait_for(lambda: preview_count(everyone_else) > 0, timeout=30, what="the demo indexed")
    assert preview_count(by_tag) == 0

    _set(customer_id, "SET tags = list_append(tags, :t)", {":t": {"L": [{"S": tag}]}})
    wait_for(lambda: preview_count(by_tag) == 1, timeout=20, what="the tagged customer counted")
    page = api.post("/v1/segments/preview", owner, json=by_tag).json()
    assert [c["customer_id"] for c in page["customers"]] == [customer_id]

    saved = api.post(
        "/v1/segments",
        owner,
        json={"name": "尺码 M", "filter": {"attribute": {"id": "size", "in": ["M"]}}},
    )
    assert saved.status_code == 201, saved.text
    segment_id = saved.json()["segment_id"]
    assert saved.json()["count"] == 0
    _set(customer_id, "SET attributes = :a", {":a": {"M": {"size": {"S": "M"}}}})

    def refreshed() -> int:
        answer = api.post(f"/v1/segments/{segment_id}/refresh", owner)
        assert answer.status_code == 200, answer.text
        return answer.json()["count"]

    wait_for(lambda: refreshed() == 1, timeout=20, what="the attribute change counted")
    members = api.get(f"/v1/segments/{segment_id}/customers", owner).json()["customers"]
    assert [c["customer_id"] for c in members] == [customer_id]

    _set(customer_id, "SET attributes = :a", {":a": {"M": {"size": {"S": "L"}}}})
    wait_for(lambda: refreshed() == 0, timeout=20, what="the attribute change uncounted")
    _set(customer_id, "SET tags = :t", {":t": {"L": []}})
    wait_for(lambda: preview_count(by_tag) == 0, timeout=20, what="the tag removed")
