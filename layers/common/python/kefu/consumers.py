"""The shape every event-consuming function shares: an SQS batch of EventBridge events, each
record handled on its own, failures reported per record (ReportBatchItemFailures) so only they
come back, and one structured log line per record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from kefu.events import parse_sqs_record

# (the event's detail, the SQS record) -> what to log about the outcome
RecordHandler = Callable[[dict, Any], dict | None]


def event_consumer(service: str, handle: RecordHandler) -> tuple[Logger, Callable]:
    """Returns (logger, the Lambda handler)."""
    logger = Logger(service=service)
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: Any) -> None:
        detail = parse_sqs_record(record.raw_event)
        outcome = handle(detail, record) or {}
        logger.info(
            "handled",
            extra={"event": detail["type"], "event_id": detail.get("event_id"), **outcome},
        )

    @logger.inject_lambda_context
    def handler(event: dict, context: Any) -> dict:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return logger, handler
