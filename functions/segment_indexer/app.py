"""The CustomersTable's stream -> the segment index (kefu.segments.maintainer).

A failure raises: Lambda retries the batch, halving it (BisectBatchOnFunctionError) until the
record that fails is alone, and after the last retry sends its position to the DLQ (alarmed).
Applying a batch twice leaves the same index, so retries are safe.
"""

from typing import Any

from aws_lambda_powertools import Logger
from kefu.segments.maintainer import apply_changes, net_changes

logger = Logger(service="segment_indexer")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    applied = apply_changes(net_changes(records))
    result = {
        "records": len(records),
        "customers": applied.customers,
        "numbered": applied.numbered,
        "items_written": applied.items_written,
    }
    logger.info("applied", extra=result)
    return result
