"""Scheduled (every 5 minutes): record SLA breaches of tickets, escalate, announce them."""

from aws_lambda_powertools import Logger
from kefu.tickets.sweep import sweep

logger = Logger(service="sla_sweep")


@logger.inject_lambda_context
def handler(event, context):
    recorded = sweep()
    logger.info("sla sweep", extra={"breaches": recorded})
    return {"breaches": recorded}
