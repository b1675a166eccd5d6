"""Notifier: domain events agents and customers should see at once (EventBridge -> SQS) pushed
to their WebSocket connections, and the staff inbox. Who gets what: kefu.realtime.notify.

Each event is handled once by its id (kefu.dedupe, one write per event: the claim names the SQS
message): a re-published `message.received` (WeChat retried the push) or a redelivered record
sends no frame twice. A reply's delivery outcome (`message.delivered`/`.undeliverable`) is the
exception: its frame sets the message's delivery status and writes no inbox item, so a repeat
shows the same status again, harmlessly, and its claim (a write per reply) is not taken.
The records of one batch share their reads (kefu.realtime.notify.batch)."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from kefu.consumers import event_consumer
from kefu.dedupe import once
from kefu.events import BadEvent, Event, decode, parse_sqs_record
from kefu.realtime import notify as realtime

# Events whose frames only set a state the client already keys by message id (see above).
STATUS_FRAMES = frozenset({"message.delivered", "message.undeliverable"})


def notify(event: Event) -> realtime.Outcome:
    return realtime.notify(event)


def _notify(event: Event, record: SQSRecord) -> dict:
    outcome = notify(event)
    return {"sockets": outcome.sockets, "inbox_new": len(outcome.inbox_new)}


logger, _handle_batch = event_consumer(
    "notifier", once("notifier", _notify, by_message=True, idempotent_types=STATUS_FRAMES)
)


def _events(batch: dict) -> list[Event]:
    """The batch's events that decode (the others are rejected record by record, as before)."""
    found = []
    for record in batch.get("Records") or []:
        try:
            found.append(decode(parse_sqs_record(record)))
        except (BadEvent, ValueError, TypeError, KeyError):
            continue
    return found


def handler(event: dict, context: Any) -> Any:
    with realtime.batch(_events(event)):
        return _handle_batch(event, context)
