"""Knowledge-base publishing (EventBridge `knowledge.publish_requested` -> SQS): build the index
of the draft a staff member asked to publish, and make it the next published version — too
long a job for the HTTP request (docs/knowledge-base.md). Each record is idempotent: the head
says whether the request is still pending (kefu.knowledge.publisher). A failure a retry cannot
mend is recorded on the head; on the attempt that sends a record to the DLQ, so is any other."""

import os

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from kefu.consumers import event_consumer
from kefu.events import Event
from kefu.knowledge.publisher import handle

# The queue's maxReceiveCount (template.yaml): the attempt after which SQS gives up.
MAX_ATTEMPTS = int(os.environ.get("KNOWLEDGE_PUBLISH_MAX_ATTEMPTS", "3"))


def _publish(event: Event, record: SQSRecord) -> dict:
    attempt = int(record.attributes.approximate_receive_count)
    return handle(event, last_attempt=attempt >= MAX_ATTEMPTS)


logger, handler = event_consumer("knowledge_publisher", _publish)
