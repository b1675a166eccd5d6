"""Specification: the outbound function never starts a reply it may not have time to finish.
A reply's worst case (every WeChat call timing out) is kefu.outbound.RECORD_BUDGET_MS; once less
than that is left, the rest of the batch is reported as batchItemFailures untouched and made
visible again at once, for another invocation."""

import importlib.util
import json
from pathlib import Path

import boto3
import pytest
from kefu.outbound import RECORD_BUDGET_MS, Delivery

APP = Path(__file__).resolve().parents[3] / "functions" / "outbound" / "app.py"


def _load_app():
    spec = importlib.util.spec_from_file_location("outbound_app_under_test", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Clock:
    def __init__(self, remaining_ms):
        self.remaining_ms = remaining_ms


class Context:
    """A Lambda context whose remaining time follows the test's clock."""

    function_name = "outbound"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:outbound"
    aws_request_id = "req-1"

    def __init__(self, clock):
        self._clock = clock

    def get_remaining_time_in_millis(self):
        return self._clock.remaining_ms


@pytest.fixture
def queue(kefu_env, monkeypatch):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="outbound-test")["QueueUrl"]
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", url)
    for n in range(10):
        detail = {
            "type": "reply.created",
            "shop_id": "shop-a",
            "event_id": f"reply.created:m{n}",
            "data": {"conversation_id": "c1", "message_id": f"m{n}", "msg_key": f"k{n}"},
        }
        sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"detail-type": "reply.created", "detail": detail})
        )
    received = []
    while len(received) < 10:
        received += sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, AttributeNames=["All"]
        )["Messages"]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
        for m in received
    ]
    return url, records


def test_a_batch_stops_before_a_reply_that_might_not_finish(queue, monkeypatch):
    url, records = queue
    app = _load_app()
    clock = Clock(remaining_ms=RECORD_BUDGET_MS * 2 + 5_000)
    delivered = []

    def slow_delivery(detail, *, attempt, last_attempt):
        delivered.append(detail.data.message_id)
        clock.remaining_ms -= 20_000  # WeChat is slow today
        return Delivery("delivered")

    monkeypatch.setattr(app, "deliver_reply", slow_delivery)

    out = app.handler({"Records": records}, Context(clock))

    # 2 x budget + 5 s left: after two 20 s replies 2 x budget - 35 s >= budget is left, so a
    # third starts; after it less than a budget is left, so the other seven wait.
    assert delivered == [json.loads(r["body"])["detail"]["data"]["message_id"] for r in records[:3]]
    left = [r["messageId"] for r in records[3:]]
    assert out == {"batchItemFailures": [{"itemIdentifier": m} for m in left]}
    # The ones left are visible again at once, not after the 600 s visibility timeout.
    again = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert sorted(m["MessageId"] for m in again.get("Messages", [])) == sorted(left)


def test_the_first_record_always_starts_and_a_roomy_batch_runs_whole(queue, monkeypatch):
    _, records = queue
    app = _load_app()
    delivered = []

    def quick(detail, *, attempt, last_attempt):
        delivered.append(detail.data.message_id)
        return Delivery("delivered")

    monkeypatch.setattr(app, "deliver_reply", quick)
    tight = app.handler({"Records": records[:1]}, Context(Clock(remaining_ms=1_000)))
    assert tight == {"batchItemFailures": []} and len(delivered) == 1

    roomy = app.handler({"Records": records[1:]}, Context(Clock(RECORD_BUDGET_MS + 1)))
    assert roomy == {"batchItemFailures": []} and len(delivered) == 10
