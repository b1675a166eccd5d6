"""A reply WeChat never accepts ends in the OutboundDLQ (which is alarmed), not in a loop.

The template gives OutboundQueue maxReceiveCount 5 and kefu backs off 10 s, 40 s, 160 s, 640 s
between attempts: about 14 minutes to the DLQ. The test lowers maxReceiveCount to 1 on the
running stack (the redrive itself is the queue's, so this is the same path), which takes one
attempt plus the first 10 s back-off, and restores the template's policy afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from infra.local.stack import LocalStack
from tests.integration.kefu_http import CUSTOM_SEND, Api, StandIn, unique, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def queues(stack: LocalStack) -> Iterator[dict]:
    sqs = stack.client("sqs")
    queue_url = stack.resource("OutboundQueue").physical_id
    dlq_url = stack.resource("OutboundDLQ").physical_id
    original = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]["RedrivePolicy"]
    policy = json.loads(original)
    assert int(policy["maxReceiveCount"]) == 5  # what template.yaml declares
    quick = json.dumps({**policy, "maxReceiveCount": 1})
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": quick})
    try:
        yield {"sqs": sqs, "queue": queue_url, "dlq": dlq_url}
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": original})


def _drain_failures(standin: StandIn) -> None:
    """Spend the stand-in's remaining injected failures, so no later delivery meets them."""
    url = f"{standin.base_url}{CUSTOM_SEND}"
    while requests.post(url, data=b"{}", timeout=5).status_code == 503:
        pass


def test_reply_that_keeps_failing_lands_in_the_dlq(
    api: Api, standin: StandIn, agent1: str, queues: dict, resolve_later
):
    code = unique("dlq")
    customer = api.customer_login("demo", code)
    conversation_id = api.customer_says(customer["token"], "有人吗")["conversation_id"]
    resolve_later(agent1, conversation_id)
    standin.fail(CUSTOM_SEND, http_status=503, times=5)  # WeChat's front end is down
    try:
        reply = api.claim_and_reply(agent1, conversation_id, "在的")

        # The attempt fails; the message is retried after its back-off...
        message = api.wait_for_delivery(agent1, conversation_id, reply["message_id"], "retrying")
        assert "unavailable" in message["delivery_error"]

        # ...and, past maxReceiveCount, SQS moves it to the dead-letter queue.
        def dead_letters() -> list[dict]:
            return (
                queues["sqs"]
                .receive_message(QueueUrl=queues["dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
                .get("Messages", [])
            )

        dead = wait_for(dead_letters, timeout=25, interval=0, what="a message in OutboundDLQ")
    finally:
        _drain_failures(standin)
    assert len(dead) == 1
    event = json.loads(dead[0]["Body"])
    assert event["detail-type"] == "reply.created"
    assert event["detail"]["data"]["message_id"] == reply["message_id"]
    queues["sqs"].delete_message(QueueUrl=queues["dlq"], ReceiptHandle=dead[0]["ReceiptHandle"])
    # WeChat saw exactly the one attempt the queue allowed, and nothing was delivered. (kefu
    # marks a reply "failed" on attempt OUTBOUND_MAX_ATTEMPTS, 5 like the template's
    # maxReceiveCount; with the lowered count here it stays "retrying".)
    attempts = standin.sent_to(StandIn.openid("demo", code))
    assert [a["http_status"] for a in attempts] == [503]
    message = api.message(agent1, conversation_id, reply["message_id"])
    assert message["delivery_status"] == "retrying"
