"""`ticket.resolved` events (EventBridge -> SQS): tell the customer on their channel, once per
resolution (the notice goes out through the reply path: reply.created -> outbound)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from kefu.events import parse_sqs_record
from kefu.tickets.notifier import notify_resolved

logger = Logger(service="ticket_notifier")
processor = BatchProcessor(event_type=EventType.SQS)


def notify(record) -> None:
    detail = parse_sqs_record(record.raw_event)
    outcome = notify_resolved(detail)
    logger.info(
        "resolution notice",
        extra={
            "ticket_id": detail["data"].get("ticket_id"),
            "status": outcome.status,
            "reason": outcome.reason,
            "message_id": outcome.message_id,
        },
    )


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=notify, processor=processor, context=context
    )
