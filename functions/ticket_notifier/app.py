"""`ticket.resolved` events (EventBridge -> SQS): tell the customer on their channel, once per
resolution (the notice goes out through the reply path: reply.created -> outbound)."""

from kefu.consumers import event_consumer
from kefu.tickets.notifier import notify_resolved


def _notify(detail, record) -> dict:
    outcome = notify_resolved(detail)
    return {
        "ticket_id": detail["data"].get("ticket_id"),
        "status": outcome.status,
        "reason": outcome.reason,
        "message_id": outcome.message_id,
    }


logger, handler = event_consumer("ticket_notifier", _notify)
