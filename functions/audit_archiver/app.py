"""The audit table's stream -> the Object Lock archive bucket (kefu.audit.archive).

A failure raises: Lambda retries the batch, halving it (BisectBatchOnFunctionError) until the
record that fails is alone, and after the last retry sends its position to the DLQ (alarmed).
"""

import os
from typing import Any

from aws_lambda_powertools import Logger
from kefu.audit.archive import archive_batch

logger = Logger(service="audit_archiver")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = archive_batch(event.get("Records") or [], bucket=os.environ["AUDIT_ARCHIVE_BUCKET"])
    if batch is None:
        return {"records": 0}
    logger.info(
        "archived", extra={"key": batch.key, "records": batch.records, "written": batch.written}
    )
    return {"key": batch.key, "records": batch.records, "written": batch.written}
