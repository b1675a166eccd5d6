"""Scheduled: close conversations that stayed resolved through the quiet period."""

from typing import Any

from aws_lambda_powertools import Logger
from kefu.conversations.housekeeping import close_quiet_conversations

logger = Logger(service="housekeeping")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    closed = close_quiet_conversations()
    logger.info("closed quiet conversations", extra={"closed": closed})
    return {"closed": closed}
