"""The shape every event-consuming function shares: an SQS batch of EventBridge events, each
record handled on its own, failures reported per record (ReportBatchItemFailures) so only they
come back, and one structured log line per record.

A record is started only if the invocation has time left to finish it (`record_budget_ms`, the
record's worst case): the rest of the batch is reported as failures without being touched, so a
slow dependency never has the function killed mid-record by its timeout. The first record of
an invocation always starts (nothing better can be done with it).

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

# What any record may need beyond its own work (a DynamoDB write or two, the log line).
DEFAULT_RECORD_BUDGET_MS = 2_000


class OutOfTime(Exception):
    """Not started: too little of the invocation is left to finish it. Reported as a batch
    item failure, so SQS delivers it again (to this or another instance)."""


def event_consumer(
    service: str,
    handle: RecordHandler,
    *,
    record_budget_ms: int = DEFAULT_RECORD_BUDGET_MS,
    requeue_url: Callable[[], str | None] | None = None,
) -> tuple[Logger, Callable]:
    """Returns (logger, the Lambda handler). `requeue_url`: the queue's URL, to make the records
    left for lack of time visible again at once instead of after the visibility timeout."""
    logger = Logger(service=service)
    processor = BatchProcessor(event_type=EventType.SQS)
    invocation: dict[str, Any] = {"context": None, "started": 0, "deferred": []}

    def _out_of_time() -> bool:
        remaining = getattr(invocation["context"], "get_remaining_time_in_millis", None)
        return (
            invocation["started"] > 0 and remaining is not None and remaining() < record_budget_ms
        )

    def record_handler(record: Any) -> None:
        if invocation["deferred"] or _out_of_time():
            invocation["deferred"].append(record)
            raise OutOfTime(f"{record.message_id}: left for another invocation")
        invocation["started"] += 1
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
    def handler(event: dict, context: Any) -> Any:
        invocation.update(context=context, started=0, deferred=[])
        try:
            return process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        finally:
            if invocation["deferred"]:
                logger.warning(
                    "out of time: records left for another invocation",
                    extra={
                        "deferred": len(invocation["deferred"]),
                        "started": invocation["started"],
                    },
                )
                _requeue(invocation["deferred"], requeue_url() if requeue_url else None)

    def _requeue(records: list, queue_url: str | None) -> None:
        if not queue_url:
            return  # they come back after the queue's visibility timeout
        from kefu.aws import client

        for start in range(0, len(records), 10):  # SQS takes 10 entries a request
            try:
                client("sqs").change_message_visibility_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r.receipt_handle, "VisibilityTimeout": 0}
                        for i, r in enumerate(records[start : start + 10])
                    ],
                )
            except Exception:  # best effort: the visibility timeout brings them back anyway
                logger.exception("could not make deferred records visible again")

    return logger, handler
