"""Scheduled (every 5 minutes): record SLA breaches of tickets, escalate, announce them."""

from typing import Any

from aws_lambda_powertools import Logger
from kefu.tickets.sweep import sweep

logger = Logger(service="sla_sweep")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    recorded = sweep()
    logger.info("sla sweep", extra={"breaches": recorded})
    return {"breaches": recorded}
