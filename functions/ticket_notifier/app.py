"""`ticket.resolved` events (EventBridge -> SQS): tell the customer on their channel, once per
resolution (the notice goes out through the reply path: reply.created -> outbound)."""

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from kefu.consumers import event_consumer
from kefu.events import Event
from kefu.tickets.notifier import notify_resolved


def _notify(event: Event, record: SQSRecord) -> dict:
    outcome = notify_resolved(event)
    return {
        "ticket_id": getattr(event.data, "ticket_id", None),
        "status": outcome.status,
        "reason": outcome.reason,
        "message_id": outcome.message_id,
    }


logger, handler = event_consumer("ticket_notifier", _notify)
