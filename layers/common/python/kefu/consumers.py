"""The shape every event-consuming function shares: an SQS batch of EventBridge events, each
record handled on its own, failures reported per record (ReportBatchItemFailures) so only they
come back, and one structured log line per record.

Each record is decoded into its event contract (kefu.events_catalog) before the handler sees
it. A record that is not one (an unknown type, a missing or mistyped required field) is logged
with a reason code and reported as a failure like any other: after the queue's maxReceiveCount
it lands in the DLQ, which is alarmed (docs/decisions.md, "Malformed events")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from kefu.events import BadEvent, Event, decode, parse_sqs_record

# (the decoded event, the SQS record) -> what to log about the outcome
RecordHandler = Callable[[Event, Any], dict | None]


def event_consumer(service: str, handle: RecordHandler) -> tuple[Logger, Callable]:
    """Returns (logger, the Lambda handler)."""
    logger = Logger(service=service)
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: Any) -> None:
        try:
            event = decode(parse_sqs_record(record.raw_event))
        except (BadEvent, ValueError) as exc:
            reason = exc.reason if isinstance(exc, BadEvent) else "not_an_event"
            logger.error(
                "rejected",
                extra={"reason": reason, "error": str(exc), "message_id": record.message_id},
            )
            raise
        outcome = handle(event, record) or {}
        logger.info("handled", extra={"event": event.type, "event_id": event.event_id, **outcome})

    @logger.inject_lambda_context
    def handler(event: dict, context: Any) -> dict:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return logger, handler
