"""The agent's own markers on a conversation: pending (waiting on the customer) and snoozed
(hidden from "mine" until a time). The customer's next message clears either one
(kefu.conversations.inbound), so a snoozed conversation comes back when the customer writes.
Each change is written with its audit record in one transaction."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.conversations.service import conversation_audit, get_conversation
from kefu.errors import BadRequest, Conflict
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation
from kefu.storage.tx import condition_failed, write_transaction
from kefu.workbench.common import require_handler

MAX_SNOOZE_MS = 30 * 24 * 3600 * 1000


class SnoozeRequest(msgspec.Struct, forbid_unknown_fields=True):
    # Epoch milliseconds (what every other time in this API is).
    until: Annotated[int, msgspec.Meta(ge=0)]


def _change(
    actor: StaffActor, conversation_id: str, action: str, state: str | None, until: int | None
) -> dict:
    p.require(actor, p.CONVERSATIONS_REPLY)
    conv = get_conversation(actor, conversation_id)
    require_handler(actor, conv, what="mark it")
    if conv.status != "assigned":
        raise Conflict("only an assigned conversation can be marked", code="not_assigned")
    before = {"agent_state": conv.agent_state, "snoozed_until": conv.snoozed_until}
    after = {"agent_state": state, "snoozed_until": until}
    if before == after:
        return conv.to_public()
    at = now_ms()
    actions = [
        Conversation.agent_state.set(state) if state else Conversation.agent_state.remove(),
        Conversation.snoozed_until.set(until) if until else Conversation.snoozed_until.remove(),
    ]
    # Optimistic: still assigned to the same agent (a transfer meanwhile wins).
    condition = (Conversation.status == "assigned") & (Conversation.assignee == conv.assignee)
    try:
        with write_transaction() as tx:
            tx.update(conv, actions, condition=condition)
            tx.save(conversation_audit(actor, action, conv, before, after, at))
    except TransactWriteError as exc:
        if condition_failed(exc, 1):  # pynamodb sends puts before updates: the update is item 1
            raise Conflict("conversation changed meanwhile: reload it", code="stale") from None
        raise
    return {**conv.to_public(), **after}


def mark_pending(actor: StaffActor, conversation_id: str) -> dict:
    return _change(actor, conversation_id, "conversation.pending", "pending", None)


def snooze(actor: StaffActor, conversation_id: str, req: SnoozeRequest) -> dict:
    now = now_ms()
    if not now < req.until <= now + MAX_SNOOZE_MS:
        raise BadRequest(
            "until must be in the future and at most 30 days ahead (epoch milliseconds)",
            code="invalid_until",
        )
    return _change(actor, conversation_id, "conversation.snoozed", "snoozed", req.until)


def unsnooze(actor: StaffActor, conversation_id: str) -> dict:
    """Clears either marker; unsnoozing a conversation that is not marked changes nothing."""
    return _change(actor, conversation_id, "conversation.unsnoozed", None, None)
