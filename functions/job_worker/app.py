"""The job worker (docs/jobs.md): runs queued jobs a chunk at a time from the jobs queue (with a
DLQ). A message names one job; the worker goes on from the job's last finished chunk, and
queues the job again before its time runs out, so a crash or a timeout resumes, never restarts."""

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from kefu.jobs.worker import run

logger = Logger(service="job_worker")
processor = BatchProcessor(event_type=EventType.SQS)
_context: dict[str, Any] = {}


def _record(record: Any) -> None:
    message = json.loads(record.body)
    context = _context.get("context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    outcome = run(
        message["shop_id"], message["job_id"], remaining if remaining else (lambda: 60_000)
    )
    logger.info("job", extra={"job_id": message["job_id"], **outcome})


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> Any:
    _context["context"] = context
    return process_partial_response(
        event=event, record_handler=_record, processor=processor, context=context
    )
