"""Handle each domain event once per consumer, by event id.

Events are re-published with the same `event_id` (intake announces `message.received` again
when WeChat retries a push, so that a publish lost after the message was stored is completed),
and EventBridge and SQS deliver at least once. A consumer whose effects are not all conditional
writes (the notifier's WebSocket frames, the ticket notifier's announcement) wraps its handler
in `once`, which keeps a small TTL'd item per (consumer, event) in RuntimeTable:

    pk = "SEEN#<consumer>#<shop>#<event_id>"   state working|done, lease_until, expires_at

- one conditional PutItem claims the event (absent, or a claim whose lease ran out: the
  consumer that held it crashed or timed out), then the handler runs;
- success: one UpdateItem marks it done, so a copy within SEEN_TTL_SECONDS is dropped;
- the handler raises: the claim is deleted, so SQS's redelivery runs it again.

Two writes per event, each on its own partition key (no hot key at a shop's peak).

`by_message=True` (the notifier, whose cost is per event on every message) makes it one write:
the claim names the SQS message that carries the event, and is never marked done. A copy of
the event (re-published by intake: another SQS message) is dropped whatever the claim's state —
if the first copy's handler failed or crashed, its own SQS message comes back and finishes the
work. The same SQS message delivered again takes the claim over once the lease has run out: it
comes back only when the attempt did not finish (a handler failure, a crash or timeout), the
rare exception being a success SQS was not told of (the poller's delete lost) after the lease.

When
RuntimeTable cannot be written (throttled, not granted) the event is handled anyway: every
consumer's durable effects are idempotent on their own, this only spares the repeats.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from kefu.events import Event, decode
from kefu.storage.runtime import EventSeen

log = logging.getLogger("kefu.dedupe")

# EventBridge retries a target for up to 24 hours; WeChat retries a push within 15 s.
SEEN_TTL_SECONDS = 24 * 3600
# Longer than any consumer's function timeout; shorter than its queue's visibility timeout.
LEASE_SECONDS = 120

WORKING, DONE = "working", "done"


def _conditional_failed(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def claim(
    consumer: str, shop_id: str, event_id: str, *, message_id: str | None = None
) -> EventSeen | None:
    """The claim on this event, or None when it was handled (or is being handled) already.
    With `message_id`, a claim whose lease ran out is taken over only by the same SQS message
    (or from a claim that names none). Raises PutError on anything but a failed condition."""
    now = int(time.time())
    item = EventSeen(
        EventSeen.key(consumer, shop_id, event_id),
        state=WORKING,
        lease_until=now + LEASE_SECONDS,
        expires_at=now + SEEN_TTL_SECONDS,
        message_id=message_id,
    )
    lapsed = (EventSeen.state == WORKING) & (EventSeen.lease_until < now)
    if message_id is not None:
        lapsed = lapsed & (
            EventSeen.message_id.does_not_exist() | (EventSeen.message_id == message_id)
        )
    try:
        item.save(condition=EventSeen.pk.does_not_exist() | lapsed)
    except PutError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return item


def once(
    consumer: str,
    handle: Callable[[Event, Any], dict | None],
    *,
    by_message: bool = False,
    idempotent_types: frozenset[str] = frozenset(),
) -> Callable:
    """`handle(event, record)`, run once per event id for this consumer; a repeat returns
    {"duplicate": True} without running it. `by_message`: one write per event (see above).
    `idempotent_types`: event types whose handling is idempotent by nature (a repeat sets what
    the first set, and adds nothing), handled without a claim: the claim would cost a write per
    event to spare a harmless repeat."""

    def handle_once(detail: Event | dict, record: Any) -> dict | None:
        detail = decode(detail)
        event_id = detail.event_id
        if not event_id or detail.type in idempotent_types:
            return handle(detail, record)
        try:
            message_id = getattr(record, "message_id", None) if by_message else None
            item = claim(consumer, detail.shop_id, str(event_id), message_id=message_id)
        except PutError:
            log.error("dedupe claim failed; handling the event anyway", exc_info=True)
            return handle(detail, record)
        if item is None:
            return {"duplicate": True}
        try:
            outcome = handle(detail, record)
        except BaseException:
            try:
                item.delete(condition=EventSeen.state == WORKING)
            except DeleteError:
                log.warning("dedupe claim not released; its lease will run out", exc_info=True)
            raise
        if item.message_id is not None:
            return outcome  # by message: the claim stays, and a copy is dropped by it
        try:
            item.update(actions=[EventSeen.state.set(DONE)])
        except UpdateError:  # handled; a copy after the lease would be handled again
            log.warning("dedupe claim not marked done", exc_info=True)
        return outcome

    return handle_once
