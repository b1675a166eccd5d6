"""Handing a conversation to a colleague or to a queue, with a note.

The assigned agent transfers their own conversation; supervisors transfer anyone's (and may
`force` an agent above capacity or while not online). One transaction moves the conversation,
both agents' loads and the audit record; the agent who let go gets `agent.slot_freed`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.assignment.core import (
    agent_decrement,
    agent_increment,
    agent_room_condition,
    get_queue,
    slot_freed_event,
)
from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation, Wait
from kefu.storage.shops import StaffMember
from kefu.storage.tx import condition_failed, write_transaction
from kefu.storage.workbench import QueueId
from kefu.validation import Username

Note = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class TransferRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    note: Note
    to_agent: Username | None = None
    to_queue: QueueId | None = None
    force: bool = False  # supervisors only: above capacity, or to an agent not online


def _load(actor: StaffActor, conversation_id: str) -> Conversation:
    conv = Conversation.get_or_404(
        actor.shop_id,
        conversation_id,
        consistent_read=True,
        message=f"no conversation {conversation_id!r}",
        code="conversation_not_found",
    )
    if conv.status not in ("bot", "queued", "assigned"):  # from the bot: ends the bot's part
        raise Conflict(f"conversation is {conv.status}", code="not_open")
    supervisor = actor.can(p.CONVERSATIONS_ASSIGN)
    if not supervisor and conv.assignee != actor.username:
        raise Forbidden(
            "only the assigned agent or a supervisor may transfer", code="not_your_conversation"
        )
    return conv


def transfer(actor: StaffActor, conversation_id: str, req: TransferRequest) -> dict:
    p.require(actor, p.CONVERSATIONS_TRANSFER)
    if (req.to_agent is None) == (req.to_queue is None):
        raise BadRequest("send exactly one of to_agent and to_queue", code="invalid_target")
    if req.force and not actor.can(p.CONVERSATIONS_ASSIGN):
        raise Forbidden("only supervisors may force a transfer", code="permission_denied")
    conv = _load(actor, conversation_id)
    shop = actor.shop_id
    previous = conv.assignee
    at = now_ms()
    still_as_read = (
        Conversation.assignee == previous
        if previous
        else Conversation.assignee.does_not_exist() & (Conversation.status == conv.status)
    )
    common = [
        Conversation.transfer_note.set(req.note),
        Conversation.last_activity_at.set(at),
    ]
    if req.to_agent is not None:
        if req.to_agent == previous:
            raise Conflict(f"conversation is already with {previous}", code="same_agent")
        member = StaffMember.get_or_404(
            shop,
            StaffMember.key(req.to_agent),
            message=f"no staff member {req.to_agent!r} in this shop",
            code="staff_not_found",
        )
        if member.status != "active":
            raise Conflict(f"{req.to_agent} is disabled", code="staff_disabled")
        conv_actions = [
            *common,
            *Conversation.status_actions(shop, "assigned", assignee=req.to_agent),
            Conversation.assigned_at.set(at),
        ]
        after = {"status": "assigned", "assignee": req.to_agent, "queue": conv.queue}
    else:
        queue_id = req.to_queue
        assert queue_id is not None  # exactly one of to_agent and to_queue (checked above)
        if get_queue(shop, queue_id) is None:
            from kefu.shops import get_shop

            if queue_id != get_shop(shop).default_queue:
                raise NotFound(f"no queue {queue_id!r}", code="queue_not_found")
        priority = int(conv.priority or 0)
        conv_actions = [
            *common,
            *Conversation.status_actions(
                shop, "queued", assignee=None, wait=Wait(queue_id, priority, at)
            ),
            *Conversation.queue_actions(shop, queue_id),
        ]
        after = {"status": "queued", "assignee": None, "queue": queue_id}
    before = {"status": conv.status, "assignee": previous, "queue": conv.queue}
    try:
        with write_transaction() as tx:
            tx.save(
                staff_change(
                    actor,
                    action="conversation.transferred",
                    target_type="conversation",
                    target_id=conversation_id,
                    before=before,
                    after={**after, "note": req.note, "force": req.force},
                    at_ms=at,
                )
            )
            tx.update(conv, conv_actions, condition=still_as_read)
            if req.to_agent is not None:
                agent, actions = agent_increment(shop, req.to_agent, at)
                tx.update(agent, actions, condition=None if req.force else agent_room_condition())
            if previous:
                agent, actions = agent_decrement(shop, previous, at)
                tx.update(agent, actions)
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            raise Conflict("conversation changed meanwhile: reload it", code="stale") from None
        if condition_failed(exc, 2) and req.to_agent is not None:
            raise Conflict(
                f"{req.to_agent} is not online or has no free slot", code="agent_unavailable"
            ) from None
        raise
    published = [
        events.DomainEvent(
            contracts.ConversationTransferred(
                conversation_id=conversation_id,
                from_agent=previous,
                from_queue=conv.queue,
                to_agent=req.to_agent,
                to_queue=req.to_queue,
                note=req.note,
                by=actor.username,
            ),
            shop,
            f"{events.CONVERSATION_TRANSFERRED}:{conversation_id}:{at}",
            occurred_at=at,
        )
    ]
    if req.to_agent is not None:
        published.append(
            events.DomainEvent(
                contracts.ConversationAssigned(
                    conversation_id=conversation_id,
                    assignee=req.to_agent,
                    previous_assignee=previous,
                    by=actor.username,
                ),
                shop,
                f"{events.CONVERSATION_ASSIGNED}:{conversation_id}:{at}",
                occurred_at=at,
            )
        )
    if previous:
        published.append(slot_freed_event(shop, previous, "transferred", at))
    events.publish(*published)
    view = conv.to_public()
    view.update(after, transfer_note=req.note, last_activity_at=at)
    return view
