"""Routing: conversations to route and assign, and agents' freed slots to fill (EventBridge ->
SQS). Each record is handled on its own; a failure is reported for that record only, and the
record comes back (at least once delivery: every step is a conditional write, so a repeat
changes nothing)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from kefu.events import parse_sqs_record
from kefu.routing.router import handle

logger = Logger(service="routing")
processor = BatchProcessor(event_type=EventType.SQS)


def route(record) -> None:
    detail = parse_sqs_record(record.raw_event)
    result = handle(detail)
    logger.info(
        "routing", extra={"event": detail["type"], "event_id": detail.get("event_id"), **result}
    )


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=route, processor=processor, context=context
    )
