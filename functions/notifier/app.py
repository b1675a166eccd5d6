"""Notifier: domain events agents and customers should see at once (EventBridge -> SQS) pushed
to their WebSocket connections, and the staff inbox. Who gets what: kefu.realtime.notify."""

from kefu.consumers import event_consumer
from kefu.realtime.notify import notify


def _notify(event, record) -> dict:
    outcome = notify(event)
    return {"sockets": outcome.sockets, "inbox_new": len(outcome.inbox_new)}


logger, handler = event_consumer("notifier", _notify)
