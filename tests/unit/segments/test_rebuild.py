"""Specification: the rebuild makes a shop's index exactly what its customer items say — found
by a Query, never a Scan — clearing bitmaps nothing backs any more."""

import os

import boto3
from kefu.segments import query
from kefu.segments.rebuild import rebuild
from kefu.storage.customers import Customer

from infra.bench import aws_calls
from tests.support.segments import item, save

SHOP = "shop-a"


def test_a_rebuild_clears_what_changed_behind_the_stream(kefu_env):
    for i in range(3):
        save(item(SHOP, f"c-{i}", tags=["vip", f"only-{i}"], total_spent=1_000 * i))
    rebuild(SHOP)
    assert query.count(SHOP, {"tag": {"in": ["vip"]}}) == 3
    # Changed without the stream (a restore, a lost batch): the index is stale until a rebuild.
    boto3.client("dynamodb").update_item(
        TableName=os.environ["CUSTOMERS_TABLE"],
        Key={"pk": {"S": SHOP}, "sk": {"S": Customer.key("c-0")}},
        UpdateExpression="SET tags = :t REMOVE total_spent",
        ExpressionAttributeValues={":t": {"L": []}},
    )
    assert query.count(SHOP, {"tag": {"in": ["only-0"]}}) == 1
    aws_calls.install()
    aws_calls.LOG.clear()
    rebuild(SHOP)
    operations = {c.operation for c in aws_calls.LOG.snapshot() if c.service == "dynamodb"}
    assert "Scan" not in operations and "Query" in operations
    assert query.count(SHOP, {"tag": {"in": ["only-0"]}}) == 0
    assert query.count(SHOP, {"tag": {"in": ["vip"]}}) == 2
    assert query.count(SHOP, {"spend": {"exists": False}}) == 1
