"""SQS event sources (partial batches, redrive), EventBridge delivery and schedules."""

from __future__ import annotations

import json
import uuid

import pytest

from infra.local.functions import FunctionError

from .conftest import get_item, query, wait_for


def receive_all(sqs, url, wait=1):
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, MessageAttributeNames=["All"]
    ).get("Messages", [])


def test_partial_batch_failure_and_redrive_to_dlq(stack):
    sqs = stack.client("sqs")
    work = stack.resource("WorkQueue")
    dlq = stack.resource("WorkDLQ")
    run = uuid.uuid4().hex[:8]
    ok1, ok2, bad = f"{run}-ok1", f"{run}-ok2", f"{run}-bad"
    sqs.send_message_batch(
        QueueUrl=work.physical_id,
        Entries=[
            {
                "Id": "1",
                "MessageBody": json.dumps({"id": ok1}),
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "demo"}},
            },
            {"Id": "2", "MessageBody": json.dumps({"id": bad, "fail": True})},
            {"Id": "3", "MessageBody": json.dumps({"id": ok2})},
        ],
    )
    wait_for(lambda: get_item(stack, "work", ok1) and get_item(stack, "work", ok2))

    # The failed record stays, is retried after the 1 s visibility timeout, and after
    # maxReceiveCount (2) receives it lands in the DLQ: moto redrives on ReceiveMessage.
    def in_dlq():
        return [m for m in receive_all(sqs, dlq.physical_id) if bad in m["Body"]]

    dead = wait_for(in_dlq, timeout=20)
    assert json.loads(dead[0]["Body"]) == {"id": bad, "fail": True}
    assert [a["sk"] for a in query(stack, f"attempt#{bad}")] == ["1", "2"]
    # Successful records were deleted after the first delivery, never retried.
    assert [a["sk"] for a in query(stack, f"attempt#{ok1}")] == ["1"]
    assert [a["sk"] for a in query(stack, f"attempt#{ok2}")] == ["1"]

    record = json.loads(get_item(stack, "work", ok1)["record"])
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == work.attributes["Arn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["body"] == json.dumps({"id": ok1})
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert set(record["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "demo",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_function_exception_fails_the_whole_batch(stack):
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.resource("WorkQueue").physical_id, MessageBody="boom")
    dlq = stack.resource("WorkDLQ").physical_id
    dead = wait_for(lambda: [m for m in receive_all(sqs, dlq) if m["Body"] == "boom"], timeout=20)
    assert dead


def test_eventbridge_rule_with_sqs_target_reaches_the_function(stack):
    events = stack.client("events")
    event_id = uuid.uuid4().hex
    result = events.put_events(
        Entries=[
            {
                "EventBusName": stack.resource("Bus").physical_id,
                "Source": "kefu.conversations",
                "DetailType": "MessageCreated",
                "Detail": json.dumps({"id": event_id, "text": "你好"}),
            }
        ]
    )
    assert result["FailedEntryCount"] == 0
    item = wait_for(lambda: get_item(stack, "via-queue", event_id))
    delivered = json.loads(item["event"])
    assert delivered["source"] == "kefu.conversations"
    assert delivered["detail-type"] == "MessageCreated"
    assert delivered["detail"] == {"id": event_id, "text": "你好"}
    assert delivered["account"] == "123456789012" and delivered["region"] == "us-east-1"


def test_eventbridge_rule_event_invokes_function_directly(stack):
    event_id = uuid.uuid4().hex
    stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": "kefu-local-bus",
                "Source": "kefu.direct",
                "DetailType": "Ping",
                "Detail": json.dumps({"id": event_id}),
            }
        ]
    )
    item = wait_for(lambda: get_item(stack, "direct", event_id))
    event = json.loads(item["event"])
    assert event["source"] == "kefu.direct" and event["detail-type"] == "Ping"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"


def test_schedule_fire_now(stack):
    result = stack.fire_schedule("ScheduledFunction")
    event = result["event"]
    assert result["ok"] is True
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["version"] == "0" and event["detail"] == {}
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert event["time"].endswith("Z")
    assert event["resources"] == [
        "arn:aws:events:us-east-1:123456789012:rule/kefu-local-ScheduledFunctionNightly"
    ]
    assert get_item(stack, "scheduled", event["id"])
    v2 = stack.schedules.fire_now("kefu-local-ScheduledFunction", "Every15")["event"]
    assert v2["resources"][0].startswith("arn:aws:scheduler:us-east-1:123456789012:schedule/")
    with pytest.raises(KeyError):
        stack.fire_schedule("ApiFunction")


def test_invoke_raises_function_error(stack):
    with pytest.raises(FunctionError) as caught:
        stack.invoke("ConsumerFunction", {"Records": [{"body": "boom"}]})
    assert caught.value.error_type == "RuntimeError"
    assert caught.value.payload()["errorMessage"] == "whole batch fails"


def test_a_dynamodb_stream_reaches_its_function_and_a_poison_record_its_destination(stack):
    """Stream mappings: records in order with the table's images, a failing batch halved until
    the bad record is alone, which goes (by position) to the on-failure destination."""
    ddb = stack.client("dynamodb")
    table = stack.resource("ItemsTable").physical_id
    run = uuid.uuid4().hex[:8]
    for i in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": "src"}, "sk": {"S": f"{run}-{i}"}})
    ddb.put_item(
        TableName=table,
        Item={"pk": {"S": "src"}, "sk": {"S": f"{run}-bad"}, "poison": {"BOOL": True}},
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "src"}, "sk": {"S": f"{run}-after"}})
    wait_for(lambda: get_item(stack, "streamed", f"{run}-after"), timeout=30)
    for i in range(3):
        record = json.loads(get_item(stack, "streamed", f"{run}-{i}")["record"])
        assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == stack.resource("ItemsTable").attributes["StreamArn"]
        assert record["dynamodb"]["NewImage"]["sk"] == {"S": f"{run}-{i}"}
    assert get_item(stack, "streamed", f"{run}-bad") is None
    sqs = stack.client("sqs")
    dead = wait_for(lambda: receive_all(sqs, stack.resource("StreamDLQ").physical_id), timeout=20)
    info = json.loads(dead[0]["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"].endswith(
        stack.resource("ItemsTable").attributes["StreamArn"].rsplit("/", 1)[1]
    )
