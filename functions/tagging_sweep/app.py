"""Scheduled (every 15 minutes): the cart_abandoned auto-tag rules — carts changed N hours ago
with no order since get the rules' tags (docs/tags.md)."""

from typing import Any

from aws_lambda_powertools import Logger
from kefu.tags.cart import sweep

logger = Logger(service="tagging_sweep")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    totals = sweep()
    logger.info("cart sweep", extra=totals)
    return totals
