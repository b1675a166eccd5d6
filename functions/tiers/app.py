"""Tiers: the shop's order events (EventBridge -> SQS; points, then the customer's RFM scores and
tier) and the nightly pass (schedule; recency decays without events). Domain: kefu.tiers."""

from typing import Any

from kefu.consumers import event_consumer
from kefu.events import Event

# What a nightly run keeps in hand for its last chunk and checkpoint.
NIGHTLY_RESERVE_MS = 60_000


def _handle(event: Event, record: Any) -> dict:
    from kefu.tiers.recompute import on_order_event

    return on_order_event(event)


logger, handler = event_consumer("tiers", _handle)


@logger.inject_lambda_context
def nightly(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from kefu.tiers.nightly import run

    remaining = getattr(context, "get_remaining_time_in_millis", None)
    totals = run(time_left=lambda: remaining is None or remaining() > NIGHTLY_RESERVE_MS)
    logger.info("tier pass", extra=totals)
    return totals
