"""What staff do with conversations. Each call checks the actor's permission first, touches
only the actor's shop (the shop is in every key), and writes state changes together with their
audit record in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.ids import now_ms
from kefu.pagination import decode_cursor, take_page
from kefu.storage.audit import AuditRecord
from kefu.storage.conversations import OPEN_STATUSES, STATUSES, Conversation
from kefu.storage.shops import StaffMember
from kefu.storage.tx import condition_failed, write_transaction


class AssignRequest(msgspec.Struct, forbid_unknown_fields=True):
    assignee: str
    # A supervisor may knowingly put an agent above capacity (audited); otherwise assigning to
    # an agent without a free slot is a 409.
    force: bool = False


@dataclass(frozen=True)
class ListFilter:
    status: str | None = None
    queue: str | None = None
    assignee: str | None = None


def _visible(actor: StaffActor, conv: Conversation) -> bool:
    return actor.can(p.CONVERSATIONS_READ_ALL) or conv.assignee in (None, actor.username)


_UNREAD: Any = object()


def get_conversation(
    actor: StaffActor, conversation_id: str, *, read: Conversation | None = _UNREAD
) -> Conversation:
    """The conversation, if the actor may see it. `read`: the item already read by the caller
    (with the staff record, in one request: kefu.conversations.replies.read_for_reply), None
    when there was none; the same checks apply to it."""
    p.require(actor, p.CONVERSATIONS_READ)
    if read is _UNREAD:
        conv = Conversation.get_or_404(
            actor.shop_id,
            conversation_id,
            consistent_read=True,
            message=f"no conversation {conversation_id!r}",
            code="conversation_not_found",
        )
    elif read is None or read.shop_id != actor.shop_id:
        raise NotFound(f"no conversation {conversation_id!r}", code="conversation_not_found")
    else:
        conv = read
    if not _visible(actor, conv):
        raise Forbidden("conversation is assigned to another agent", code="not_your_conversation")
    return conv


def list_conversations(
    actor: StaffActor, flt: ListFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict], str | None]:
    """One bounded Query on the index that fits the filter; other filters apply to that page."""
    p.require(actor, p.CONVERSATIONS_READ)
    shop = actor.shop_id
    if flt.status and flt.status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    assignee = actor.username if flt.assignee == "me" else flt.assignee
    if not actor.can(p.CONVERSATIONS_READ_ALL):
        # Agents see the unassigned queue and their own conversations.
        if assignee is None and flt.status is None:
            assignee = actor.username
        if assignee not in (None, actor.username):
            raise Forbidden(
                "agents may list only their own conversations", code="permission_denied"
            )
        if assignee is None and flt.status not in ("queued", "bot"):
            raise Forbidden(
                "agents may list status=queued, status=bot or assignee=me",
                code="permission_denied",
            )
    last = decode_cursor(cursor, shop_id=shop)
    condition = None
    if assignee:
        results_of = Conversation.by_assignee.query
        hash_key = Conversation.assignee_key(shop, assignee)
        if flt.status:
            condition = Conversation.status == flt.status
        if flt.queue:
            condition = _and(condition, Conversation.queue == flt.queue)
    elif flt.status:
        results_of = Conversation.by_status.query
        hash_key = Conversation.status_key(shop, flt.status)
        if flt.queue:
            condition = Conversation.queue == flt.queue
    elif flt.queue:
        results_of = Conversation.by_queue.query
        hash_key = Conversation.queue_key(shop, flt.queue)
        condition = Conversation.status.is_in(*OPEN_STATUSES)
    else:
        results_of = Conversation.by_activity.query
        hash_key = shop
        condition = Conversation.status.is_in(*OPEN_STATUSES)
    results = results_of(
        hash_key,
        filter_condition=condition,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=last,
    )
    convs, next_cursor = take_page(results, limit)
    return [c.to_public() for c in convs], next_cursor


def _and(a, b):  # noqa: ANN001 - pynamodb conditions
    return b if a is None else a & b


def conversation_audit(
    actor: StaffActor, action: str, conv: Conversation, before: dict, after: dict, at: int
) -> AuditRecord:
    """The audit record of a staff change to a conversation."""
    return staff_change(
        actor,
        action=action,
        target_type="conversation",
        target_id=conv.conversation_id,
        before=before,
        after=after,
        at_ms=at,
    )


def _assign(
    actor: StaffActor,
    conv: Conversation,
    assignee: str,
    *,
    action: str,
    only_if_unassigned: bool,
    force: bool = False,
) -> dict:
    """Assign, moving the load between the agents' `active` counts in the same transaction:
    the new agent must have a free slot (claims: whatever their status; a supervisor's
    `force` skips the check), the previous one (if any) gets a slot back."""
    from kefu.assignment.core import (
        agent_claim_condition,
        agent_decrement,
        agent_increment,
        slot_freed_event,
    )

    at = now_ms()
    before = {"status": conv.status, "assignee": conv.assignee}
    after = {"status": "assigned", "assignee": assignee}
    if force:
        after["force"] = True
    actions = [
        *Conversation.status_actions(actor.shop_id, "assigned", assignee=assignee),
        Conversation.assigned_at.set(at),
        Conversation.last_activity_at.set(at),
    ]
    condition = Conversation.status.is_in(*OPEN_STATUSES)
    if only_if_unassigned:
        condition = condition & Conversation.assignee.does_not_exist()
    else:
        # Optimistic: the conversation must still be as the supervisor saw it.
        condition = condition & (
            Conversation.assignee == conv.assignee
            if conv.assignee
            else Conversation.assignee.does_not_exist()
        )
    # Only an assigned conversation counts in its agent's load; and one agent's item may not
    # appear twice in a transaction (DynamoDB refuses the whole request).
    takes_load_from = (
        conv.assignee if conv.status == "assigned" and conv.assignee != assignee else None
    )
    try:
        with write_transaction() as tx:
            tx.update(conv, actions, condition=condition)
            agent, agent_actions = agent_increment(actor.shop_id, assignee, at)
            tx.update(agent, agent_actions, condition=None if force else agent_claim_condition())
            if takes_load_from:
                previous, previous_actions = agent_decrement(actor.shop_id, takes_load_from, at)
                tx.update(previous, previous_actions)
            tx.save(conversation_audit(actor, action, conv, before, after, at))
    except TransactWriteError as exc:
        # pynamodb sends puts before updates: audit 0, conversation 1, new agent 2.
        if condition_failed(exc, 1):
            raise Conflict(
                "conversation was assigned or closed meanwhile: reload it",
                code="assignment_conflict",
            ) from None
        if condition_failed(exc, 2):
            raise Conflict(
                f"{assignee} has no free slot (capacity reached)", code="at_capacity"
            ) from None
        raise
    published = [
        events.DomainEvent(
            contracts.ConversationAssigned(
                conversation_id=conv.conversation_id,
                assignee=assignee,
                previous_assignee=conv.assignee,
                by=actor.username,
            ),
            actor.shop_id,
            f"{events.CONVERSATION_ASSIGNED}:{conv.conversation_id}:{at}",
            occurred_at=at,
        )
    ]
    if takes_load_from:
        published.append(slot_freed_event(actor.shop_id, takes_load_from, "reassigned", at))
    events.publish(*published)
    after.pop("force", None)
    return {**conv.to_public(), **after, "assigned_at": at, "last_activity_at": at}


def claim(actor: StaffActor, conversation_id: str) -> dict:
    p.require(actor, p.CONVERSATIONS_CLAIM)
    try:
        conv = get_conversation(actor, conversation_id)
    except Forbidden:
        # Another agent claimed it first: the same answer as losing that race in _assign.
        raise Conflict(
            "conversation is assigned to another agent", code="already_assigned"
        ) from None
    if conv.assignee == actor.username and conv.status == "assigned":
        return conv.to_public()  # claiming twice is harmless
    if conv.assignee is not None:
        raise Conflict(f"conversation is assigned to {conv.assignee}", code="already_assigned")
    return _assign(
        actor, conv, actor.username, action="conversation.claimed", only_if_unassigned=True
    )


def assign(actor: StaffActor, conversation_id: str, req: AssignRequest) -> dict:
    p.require(actor, p.CONVERSATIONS_ASSIGN)
    conv = get_conversation(actor, conversation_id)
    member = StaffMember.get_or_404(
        actor.shop_id,
        StaffMember.key(req.assignee),
        message=f"no staff member {req.assignee!r} in this shop",
        code="staff_not_found",
    )
    if member.status != "active":
        raise Conflict(f"{req.assignee} is disabled", code="staff_disabled")
    if conv.assignee == req.assignee and conv.status == "assigned":
        return conv.to_public()
    if conv.status not in OPEN_STATUSES:
        raise Conflict(
            f"conversation is {conv.status}: it opens again when the customer writes",
            code="not_open",
        )
    return _assign(
        actor,
        conv,
        req.assignee,
        action="conversation.assigned",
        only_if_unassigned=False,
        force=req.force,
    )


def resolve(actor: StaffActor, conversation_id: str) -> dict:
    p.require(actor, p.CONVERSATIONS_RESOLVE)
    conv = get_conversation(actor, conversation_id)
    if conv.status == "resolved":
        return conv.to_public()
    if conv.status not in OPEN_STATUSES:
        raise Conflict(f"conversation is {conv.status}", code="not_open")
    if conv.assignee != actor.username and not actor.can(p.CONVERSATIONS_ASSIGN):
        raise Forbidden(
            "only the assigned agent or a supervisor may resolve", code="not_your_conversation"
        )
    from kefu.assignment.core import agent_decrement, slot_freed_event
    from kefu.storage.customers import Customer

    at = now_ms()
    before = {"status": conv.status}
    after = {"status": "resolved", "resolved_by": actor.username}
    try:
        with write_transaction() as tx:
            tx.update(
                conv,
                [
                    *Conversation.status_actions(actor.shop_id, "resolved"),
                    Conversation.resolved_at.set(at),
                    Conversation.resolved_by.set(actor.username),
                    Conversation.last_activity_at.set(at),
                    Conversation.unread_count.set(0),
                ],
                # The assignee too: the agent whose load goes down must be the one who had it.
                condition=(Conversation.status == conv.status)
                & (
                    Conversation.assignee == conv.assignee
                    if conv.assignee
                    else Conversation.assignee.does_not_exist()
                ),
            )
            if conv.assignee:
                agent, agent_actions = agent_decrement(actor.shop_id, conv.assignee, at)
                tx.update(agent, agent_actions)
                # 熟客优先: the customer's next conversation goes back to this agent if free.
                tx.update(
                    Customer(actor.shop_id, Customer.key(conv.customer_id)),
                    [Customer.last_agent.set(conv.assignee), Customer.last_contact_at.set(at)],
                    condition=Customer.sk.exists(),
                )
            tx.save(conversation_audit(actor, "conversation.resolved", conv, before, after, at))
    except TransactWriteError as exc:
        if condition_failed(exc, 1):  # pynamodb sends puts before updates: the update is item 1
            raise Conflict("conversation changed meanwhile: reload it", code="stale") from None
        raise
    published = [
        events.DomainEvent(
            contracts.ConversationResolved(
                conversation_id=conv.conversation_id,
                customer_id=conv.customer_id,
                by=actor.username,
            ),
            actor.shop_id,
            f"{events.CONVERSATION_RESOLVED}:{conv.conversation_id}:{at}",
            occurred_at=at,
        )
    ]
    if conv.assignee:
        published.append(slot_freed_event(actor.shop_id, conv.assignee, "resolved", at))
    events.publish(*published)
    return {
        **conv.to_public(),
        **after,
        "resolved_at": at,
        "last_activity_at": at,
        "unread_count": 0,
    }
