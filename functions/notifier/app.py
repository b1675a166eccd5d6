"""Notifier: domain events agents and customers should see at once (EventBridge -> SQS) pushed
to their WebSocket connections, and the staff inbox. Who gets what: kefu.realtime.notify."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from kefu.events import parse_sqs_record
from kefu.realtime.notify import notify

logger = Logger(service="notifier")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record) -> None:
    detail = parse_sqs_record(record.raw_event)
    outcome = notify(detail)
    logger.info(
        "notified",
        extra={
            "event_id": detail["event_id"],
            "type": detail["type"],
            "sockets": outcome.sockets,
            "inbox_new": len(outcome.inbox_new),
        },
    )


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
