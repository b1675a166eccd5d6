"""Notifier: domain events agents and customers should see at once (EventBridge -> SQS) pushed
to their WebSocket connections, and the staff inbox. Who gets what: kefu.realtime.notify.

Each event is handled once by its id (kefu.dedupe): a re-published `message.received` (WeChat
retried the push) or a redelivered record sends no frame twice."""

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from kefu.consumers import event_consumer
from kefu.dedupe import once
from kefu.events import Event
from kefu.realtime.notify import notify


def _notify(event: Event, record: SQSRecord) -> dict:
    outcome = notify(event)
    return {"sockets": outcome.sockets, "inbox_new": len(outcome.inbox_new)}


logger, handler = event_consumer("notifier", once("notifier", _notify))
