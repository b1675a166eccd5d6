"""Specification of the test support's shortcut through moto's serializer (tests/support/
moto_speed.py): DynamoDB answers byte for byte as moto's own serializer answers them."""

from __future__ import annotations

import boto3
import pytest

from tests.support.moto_speed import faster_attribute_values, motos_own_serializer

ITEM = {
    "pk": {"S": "shop-a#c-1"},
    "sk": {"S": "MSG#0001"},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\x01binary"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"x", b"y"]},
    "m": {"M": {"nested": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
    "empty_m": {"M": {}},
    "empty_l": {"L": []},
    "null": {"NULL": True},
    "yes": {"BOOL": True},
    "text": {"S": "订单 MARK"},
}


def _raw_answers() -> list[bytes]:
    """The bodies moto answers a write, a read, a query and a scan with."""
    bodies: list[bytes] = []
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.meta.events.register(
        "before-parse.dynamodb.*", lambda response_dict, **_: bodies.append(response_dict["body"])
    )
    key = {"pk": ITEM["pk"], "sk": ITEM["sk"]}
    ddb.put_item(TableName="t", Item=ITEM, ReturnValues="ALL_OLD")
    ddb.put_item(TableName="t", Item=ITEM, ReturnValues="ALL_OLD")
    ddb.get_item(TableName="t", Key=key)
    ddb.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    ddb.query(
        TableName="t",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": ITEM["pk"]},
        Limit=1,
        ReturnConsumedCapacity="INDEXES",
    )
    ddb.scan(TableName="t")
    ddb.batch_get_item(RequestItems={"t": {"Keys": [key]}})
    return bodies


@pytest.fixture
def table():
    from moto import mock_aws

    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield


def test_dynamodb_answers_are_the_bytes_moto_itself_serialises(table):
    with faster_attribute_values():
        fast = _raw_answers()
    boto3.client("dynamodb", region_name="us-east-1").delete_item(
        TableName="t", Key={"pk": ITEM["pk"], "sk": ITEM["sk"]}
    )
    with motos_own_serializer():
        slow = _raw_answers()
    assert len(fast) == len(slow) == 7
    assert fast == slow
    assert b'"B": "AAFiaW5hcnk="' in fast[1]  # the old item, its blob in base64
