"""Routing: conversations to route and assign, and agents' freed slots to fill (EventBridge ->
SQS). Each record is handled on its own; a failure is reported for that record only, and the
record comes back (at least once delivery: every step is a conditional write, so a repeat
changes nothing)."""

from kefu.consumers import event_consumer
from kefu.routing.router import handle

logger, handler = event_consumer("routing", lambda event, record: handle(event))
