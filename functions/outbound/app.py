"""Outbound delivery: `reply.created` events (EventBridge -> SQS) to the customer's channel.

A transient failure leaves the record in the queue with a growing back-off (by changing its
visibility timeout); after the queue's maxReceiveCount it moves to the DLQ, which is alarmed.
"""

import os

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from kefu.aws import client
from kefu.consumers import event_consumer
from kefu.events import Event
from kefu.outbound import RECORD_BUDGET_MS, RetryLater, backoff_seconds, deliver_reply

MAX_ATTEMPTS = int(os.environ.get("OUTBOUND_MAX_ATTEMPTS", "5"))


def _deliver(event: Event, record: SQSRecord) -> dict:
    attempt = int(record.attributes.approximate_receive_count)
    try:
        result = deliver_reply(event, attempt=attempt, last_attempt=attempt >= MAX_ATTEMPTS)
    except RetryLater as exc:
        delay = backoff_seconds(attempt)
        logger.warning("delivery will retry", extra={"reason": exc.reason, "delay": delay})
        client("sqs").change_message_visibility(
            QueueUrl=os.environ["OUTBOUND_QUEUE_URL"],
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=delay,
        )
        raise
    return {
        "message_id": event.data.message_id,
        "status": result.status,
        "reason": result.reason,
    }


# A record is started only if its worst case (every WeChat call timing out) still fits in the
# invocation; the rest of the batch goes back to the queue at once (kefu.consumers).
logger, handler = event_consumer(
    "outbound",
    _deliver,
    record_budget_ms=RECORD_BUDGET_MS,
    requeue_url=lambda: os.environ.get("OUTBOUND_QUEUE_URL"),
)
