"""Tickets: what staff do with them. Every call checks a permission, stays in the actor's shop
(the shop is every key's partition), and writes the change, its history items and its audit
record in one transaction, guarded by the ticket's version (a concurrent change -> 409).

Over 500 lines because every ticket action shares the same load, permission, version guard
and audit steps; its sections (reading, writing) are where it would split.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.aws import client
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.ids import new_id, now_ms
from kefu.media import check_media_key
from kefu.pagination import decode_cursor, take_page
from kefu.storage.shops import StaffMember
from kefu.storage.tickets import (
    PRIORITIES,
    STATUSES,
    Ticket,
    TicketHistory,
    history_sk,
    ticket_sk,
)
from kefu.storage.tx import condition_failed, write_transaction
from kefu.tickets import sla
from kefu.validation import Username

Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Note = Annotated[str, msgspec.Meta(max_length=1000)]
# Said in the schema, as the change is checked: a note goes with resolving (400 otherwise).
ResolutionNote = Annotated[
    Note,
    msgspec.Meta(
        description="Only with `status: resolved`, or on a resolved ticket (400 `invalid_change`)"
    ),
]
TicketType = Annotated[str, msgspec.Meta(pattern=r"^(complaint|refund|exchange|inquiry|other)$")]
Priority = Annotated[str, msgspec.Meta(pattern=r"^(low|normal|high|urgent)$")]
Status = Annotated[str, msgspec.Meta(pattern=r"^(new|open|pending|resolved|closed)$")]
Department = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
CustomerId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MediaKey = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Watchers = Annotated[list[Username], msgspec.Meta(max_length=20)]
Attachments = Annotated[list[MediaKey], msgspec.Meta(max_length=10)]
CommentText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Visibility = Annotated[str, msgspec.Meta(pattern=r"^(internal|public)$")]

# Allowed moves; "reopen" is resolved/closed -> open.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "pending", "resolved"),
    "open": ("pending", "resolved"),
    "pending": ("open", "resolved"),
    "resolved": ("closed", "open"),
    "closed": ("open",),
}
CONTEXT_MESSAGES = 10
MAX_RETRIES = 3


class ConversationTicket(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    subject: Subject
    type: TicketType = "inquiry"
    priority: Priority = "normal"
    description: Description | None = None
    department: Department | None = None
    assignee: Username | None = None
    watchers: Watchers = []
    attachments: Attachments = []


class NewTicket(ConversationTicket, kw_only=True):
    customer_id: CustomerId | None = None


class TicketChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    status: Status | msgspec.UnsetType = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET
    assignee: Username | None | msgspec.UnsetType = msgspec.UNSET  # null: unassign
    department: Department | None | msgspec.UnsetType = msgspec.UNSET
    watchers: Watchers | msgspec.UnsetType = msgspec.UNSET
    subject: Subject | msgspec.UnsetType = msgspec.UNSET
    resolution_note: ResolutionNote | msgspec.UnsetType = msgspec.UNSET


class NewComment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    body: CommentText
    visibility: Visibility = "internal"
    attachments: Attachments = []


# ---- reading ---------------------------------------------------------------------------------


def _can_see(actor: StaffActor, t: Ticket) -> bool:
    return (
        actor.can(p.TICKETS_READ_ALL)
        or t.assignee in (None, actor.username)
        or actor.username in (t.watchers or ())
    )


def _can_work(actor: StaffActor, t: Ticket) -> bool:
    return actor.can(p.TICKETS_MANAGE) or t.assignee in (None, actor.username)


def _load(actor: StaffActor, ticket_id: str) -> Ticket:
    t = Ticket.get_or_404(
        actor.shop_id,
        ticket_sk(ticket_id),
        consistent_read=True,
        message=f"no ticket {ticket_id!r}",
        code="ticket_not_found",
    )
    if not _can_see(actor, t):
        raise Forbidden("ticket is assigned to another agent", code="not_your_ticket")
    return t


def get_ticket(actor: StaffActor, ticket_id: str) -> dict:
    """The ticket and its whole history, oldest first: one Query on the ticket's key prefix."""
    p.require(actor, p.TICKETS_READ)
    if not ticket_id.startswith("tk_") or "#" in ticket_id:
        raise NotFound(f"no ticket {ticket_id!r}", code="ticket_not_found")
    ticket, history = None, []
    request = {
        "TableName": Ticket.Meta.table_name,
        "KeyConditionExpression": "pk = :shop AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {
            ":shop": {"S": actor.shop_id},
            ":prefix": {"S": ticket_sk(ticket_id)},
        },
        "ConsistentRead": True,
    }
    while True:
        resp = client("dynamodb").query(**request)
        for item in resp["Items"]:
            if item["sk"]["S"] == ticket_sk(ticket_id):
                ticket = Ticket.from_raw_data(item)
            else:
                history.append(TicketHistory.from_raw_data(item))
        if "LastEvaluatedKey" not in resp:
            break
        request["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id!r}", code="ticket_not_found")
    if not _can_see(actor, ticket):
        raise Forbidden("ticket is assigned to another agent", code="not_your_ticket")
    return {**ticket.to_public(), "history": [h.to_public() for h in history]}


def list_tickets(
    actor: StaffActor,
    *,
    status: str | None,
    assignee: str | None,
    customer_id: str | None,
    limit: int,
    cursor: str | None,
    priority: str | None = None,
    department: str | None = None,
) -> tuple[list[dict], str | None]:
    """Newest change first; one bounded Query on the index that fits the filters.

    Without filters: an agent's own tickets, a supervisor's new ones. `priority` and
    `department` narrow that page (a filter, never an index of their own)."""
    p.require(actor, p.TICKETS_READ)
    shop = actor.shop_id
    if status and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    if priority and priority not in PRIORITIES:
        raise BadRequest(
            f"priority must be one of {', '.join(PRIORITIES)}", code="invalid_priority"
        )
    assignee = actor.username if assignee == "me" else assignee
    read_all = actor.can(p.TICKETS_READ_ALL)
    if not (status or assignee or customer_id):
        if read_all:
            status = "new"
        else:
            assignee = actor.username
    if not read_all and assignee not in (None, actor.username):
        raise Forbidden("agents may list only their own tickets", code="permission_denied")
    condition = None
    if assignee:
        query, hash_key = Ticket.by_assignee.query, Ticket.assignee_key(shop, assignee)
        if status:
            condition = Ticket.status == status
        if customer_id:
            condition = _and(condition, Ticket.customer_id == customer_id)
    elif customer_id:
        query, hash_key = Ticket.by_customer.query, Ticket.customer_key(shop, customer_id)
        if status:
            condition = Ticket.status == status
    else:
        assert status is not None  # set above whenever there is no assignee or customer
        query, hash_key = Ticket.by_status.query, Ticket.status_key(shop, status)
    if not read_all and not assignee:
        # Agents see unassigned tickets, their own, and the ones they watch.
        condition = _and(
            condition,
            Ticket.assignee.does_not_exist()
            | (Ticket.assignee == actor.username)
            | Ticket.watchers.contains(actor.username),
        )
    if priority:
        condition = _and(condition, Ticket.priority == priority)
    if department:
        condition = _and(condition, Ticket.department == department)
    results = query(
        hash_key,
        filter_condition=condition,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=shop),
    )
    items, next_cursor = take_page(results, limit)
    return [t.to_public() for t in items], next_cursor


def _and(a, b):  # noqa: ANN001 - pynamodb conditions
    return b if a is None else a & b


# ---- writing ---------------------------------------------------------------------------------


def clock_state(t: Ticket) -> dict[str, Any]:
    return {
        "status": t.status,
        "created_at": t.created_at,
        "first_response_at": t.first_response_at,
        "first_response_due_at": t.first_response_due_at,
        "resolution_minutes": t.resolution_minutes,
        "resolution_due_at": t.resolution_due_at,
        "paused_at": t.paused_at,
        "paused_minutes": t.paused_minutes or 0,
        "breaches": t.breaches or [],
        "assignee": t.assignee,
    }


def _index_fields(shop_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return Ticket.index_attributes(
        shop_id, state["status"], state.get("assignee"), sla.next_due(state)
    )


def _history(
    t: Ticket, at: int, actor: str, kind: str, i: int, salt: str, **fields: Any
) -> TicketHistory:
    return TicketHistory(
        t.shop_id,
        history_sk(t.ticket_id, at, f"{i:02d}{salt}"),
        ticket_id=t.ticket_id,
        kind=kind,
        actor=actor,
        at=at,
        **fields,
    )


def write_change(
    t: Ticket,
    updates: dict[str, Any],
    history: list[dict[str, Any]],
    *,
    actor: str,
    at: int,
    audit: Any = None,
) -> Ticket:
    """One transaction: the ticket's new fields (guarded by its version), its history items and
    the audit record. `updates` maps attribute names to values (None removes). Returns the ticket
    as written; raises Conflict if it changed meanwhile."""
    state = {**clock_state(t), **{k: v for k, v in updates.items() if k in clock_state(t)}}
    fields = {**updates, **_index_fields(t.shop_id, state), "updated_at": at}
    fields["version"] = (t.version or 1) + 1
    actions = [
        getattr(Ticket, name).remove() if value is None else getattr(Ticket, name).set(value)
        for name, value in fields.items()
    ]
    salt = secrets.token_hex(3)
    items = [
        _history(t, at, actor, item.pop("kind"), i, salt, **item) for i, item in enumerate(history)
    ]
    try:
        with write_transaction() as tx:
            for item in items:
                tx.save(item, condition=TicketHistory.sk.does_not_exist())
            if audit is not None:
                tx.save(audit)
            tx.update(t, actions, condition=Ticket.version == t.version)
    except TransactWriteError as exc:
        if condition_failed(exc, len(items) + (audit is not None)):
            raise Conflict("ticket changed meanwhile: reload it", code="stale") from None
        raise
    for name, value in fields.items():
        setattr(t, name, value)
    return t


_audit = StaffChanges("ticket")


def _check_assignee(actor: StaffActor, assignee: str) -> None:
    if assignee != actor.username and not actor.can(p.TICKETS_MANAGE):
        raise Forbidden("agents may assign tickets only to themselves", code="permission_denied")
    member = StaffMember.get_or_404(
        actor.shop_id,
        StaffMember.key(assignee),
        message=f"no staff member {assignee!r} in this shop",
        code="staff_not_found",
    )
    if member.status != "active":
        raise Conflict(f"{assignee} is disabled", code="staff_disabled")


def _check_customer(shop_id: str, customer_id: str) -> None:
    from kefu.storage.customers import Customer

    Customer.get_or_404(
        shop_id,
        Customer.key(customer_id),
        message=f"no customer {customer_id!r}",
        code="customer_not_found",
    )


def _check_attachments(actor: StaffActor, keys: list[str]) -> None:
    for key in keys:
        check_media_key(actor.shop_id, f"staff/{actor.username}", key)


def _publish(*evts: events.DomainEvent) -> None:
    events.publish(*evts)


def create_ticket(
    actor: StaffActor,
    req: ConversationTicket,
    *,
    customer_id: str | None = None,
    conversation_id: str | None = None,
    context: list[dict] | None = None,
) -> dict:
    p.require(actor, p.TICKETS_CREATE)
    if customer_id and conversation_id is None:
        _check_customer(actor.shop_id, customer_id)
    if req.assignee:
        _check_assignee(actor, req.assignee)
    _check_attachments(actor, req.attachments)
    at = now_ms()
    ticket_id = new_id("tk", at)
    cal = sla.load_calendar(actor.shop_id)
    target = sla.load_target(actor.shop_id, req.priority)
    dues = sla.due_dates(at, target, 0, cal)
    state = {"status": "new", "created_at": at, "assignee": req.assignee, **dues}
    index = _index_fields(actor.shop_id, state)
    description = req.description
    if description is None and context:
        description = "\n".join(f"[{m['sender_type']}] {m['text']}" for m in context)
    t = Ticket(
        actor.shop_id,
        ticket_sk(ticket_id),
        ticket_id=ticket_id,
        version=1,
        type=req.type,
        priority=req.priority,
        status="new",
        subject=req.subject,
        description=description,
        context=context or None,
        attachments=list(req.attachments) or None,
        watchers=list(dict.fromkeys(req.watchers)) or None,
        department=req.department,
        assignee=req.assignee,
        customer_id=customer_id,
        conversation_id=conversation_id,
        created_by=actor.username,
        created_at=at,
        updated_at=at,
        first_response_minutes=target.first_response_minutes,
        resolution_minutes=target.resolution_minutes,
        paused_minutes=0,
        shop_customer=Ticket.customer_key(actor.shop_id, customer_id) if customer_id else None,
        **dues,
        **{k: v for k, v in index.items()},
    )
    created = {
        "type": t.type,
        "priority": t.priority,
        "status": t.status,
        "subject": t.subject,
        "assignee": t.assignee,
        "department": t.department,
        "customer_id": customer_id,
        "conversation_id": conversation_id,
    }
    history = _history(t, at, actor.actor_id, "created", 0, secrets.token_hex(3), after=created)
    with write_transaction() as tx:
        tx.save(t, condition=Ticket.sk.does_not_exist())
        tx.save(history)
        tx.save(_audit(actor, "ticket.created", ticket_id, None, created, at))
    _publish(
        events.DomainEvent(
            contracts.TicketCreated(ticket_id=ticket_id, **created, by=actor.username),
            actor.shop_id,
            f"{events.TICKET_CREATED}:{ticket_id}",
            occurred_at=at,
        )
    )
    return t.to_public()


def create_from_conversation(
    actor: StaffActor, conversation_id: str, req: ConversationTicket
) -> dict:
    """A ticket about a conversation: linked to it and its customer, with its last messages."""
    from kefu.conversations.messages import list_messages
    from kefu.conversations.service import get_conversation

    p.require(actor, p.TICKETS_CREATE)
    conv = get_conversation(actor, conversation_id)
    messages, _ = list_messages(actor.shop_id, conv.conversation_id, limit=CONTEXT_MESSAGES)
    context = [
        {
            "message_id": m.message_id,
            "at": m.created_at,
            "sender_type": m.sender_type,
            "type": m.type,
            "text": _message_text(m),
        }
        for m in messages
        if m.direction != "internal"
    ]
    return create_ticket(
        actor,
        req,
        customer_id=conv.customer_id,
        conversation_id=conv.conversation_id,
        context=context,
    )


def _message_text(m: Any) -> str:
    content = m.content.as_dict() if hasattr(m.content, "as_dict") else dict(m.content or {})
    if m.type == "text":
        return str(content.get("text", ""))
    if m.type in ("product_card", "order_card"):
        label = content.get("title") or content.get("order_id") or content.get("product_id")
        return f"[{m.type}] {label or ''}".strip()
    return f"[{m.type}]"


def update_ticket(actor: StaffActor, ticket_id: str, change: TicketChange) -> dict:
    p.require(actor, p.TICKETS_WORK)
    requested = {
        name: getattr(change, name)
        for name in change.__struct_fields__
        if getattr(change, name) is not msgspec.UNSET
    }
    if not requested:
        raise BadRequest("nothing to change: send at least one field", code="empty_change")
    if "assignee" in requested and requested["assignee"] is not None:
        _check_assignee(actor, requested["assignee"])
    for _ in range(MAX_RETRIES):
        t = _load(actor, ticket_id)
        try:
            return _apply_change(actor, t, requested)
        except Conflict as exc:
            if exc.code != "stale":
                raise
    raise Conflict("ticket keeps changing: reload it and try again", code="stale")


def _apply_change(actor: StaffActor, t: Ticket, requested: dict[str, Any]) -> dict:
    if not _can_work(actor, t):
        raise Forbidden("ticket is assigned to another agent", code="not_your_ticket")
    if (
        "assignee" in requested
        and not actor.can(p.TICKETS_MANAGE)
        and requested["assignee"] is None
        and t.assignee not in (None, actor.username)
    ):
        raise Forbidden("agents may release only their own tickets", code="permission_denied")
    at = now_ms()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    for name, value in requested.items():
        current = getattr(t, name)
        if name == "watchers":
            value = list(dict.fromkeys(value))
            current = list(current or [])
        if value == current:
            continue
        before[name], after[name] = current, value
        updates[name] = value if value != [] else None
    new_status = after.get("status")
    if new_status is not None:
        allowed = TRANSITIONS[t.status]
        if new_status not in allowed:
            raise Conflict(
                f"a {t.status} ticket can move to {', '.join(allowed)}, not {new_status}",
                code="invalid_transition",
                details={"allowed": list(allowed)},
            )
    if "resolution_note" in after and (new_status or t.status) != "resolved":
        raise BadRequest("resolution_note goes with status=resolved", code="invalid_change")
    if not after:
        return t.to_public()
    cal = None
    if new_status is not None:
        cal = sla.load_calendar(t.shop_id)
        updates.update(sla.on_status_change(clock_state(t), new_status, at, cal))
        if t.first_response_at is None:
            updates["first_response_at"] = at  # a status change by staff is a response
        if new_status == "resolved":
            updates.update(resolved_at=at, resolved_by=actor.username)
        if new_status == "closed":
            updates["closed_at"] = at
        if new_status == "open" and t.status in ("resolved", "closed"):
            updates.update(resolved_at=None, resolved_by=None, closed_at=None, resolution_note=None)
    if "priority" in after:
        cal = cal or sla.load_calendar(t.shop_id)
        target = sla.load_target(t.shop_id, after["priority"])
        paused = updates.get("paused_minutes", t.paused_minutes or 0)
        dues = sla.due_dates(t.created_at, target, paused, cal)
        updates.update(
            first_response_minutes=target.first_response_minutes,
            resolution_minutes=target.resolution_minutes,
            first_response_due_at=dues["first_response_due_at"],
            resolution_due_at=dues["resolution_due_at"],
        )
    history = [
        {"kind": "change", "field": name, "before": before[name], "after": after[name]}
        for name in after
    ]
    was = t.status
    t = write_change(
        t,
        updates,
        history,
        actor=actor.actor_id,
        at=at,
        audit=_audit(actor, "ticket.updated", t.ticket_id, before, after, at),
    )
    out = [
        events.DomainEvent(
            contracts.TicketUpdated(
                ticket_id=t.ticket_id,
                changes={k: {"before": before[k], "after": after[k]} for k in after},
                status=t.status,
                priority=t.priority,
                assignee=t.assignee,
                by=actor.username,
            ),
            t.shop_id,
            f"{events.TICKET_UPDATED}:{t.ticket_id}:{t.version}",
            occurred_at=at,
        )
    ]
    if new_status == "resolved" and was != "resolved":
        out.append(resolved_event(t))
    _publish(*out)
    return t.to_public()


def resolved_event(t: Ticket) -> events.DomainEvent:
    return events.DomainEvent(
        contracts.TicketResolved(
            ticket_id=t.ticket_id,
            short_id=t.short_id,
            subject=t.subject,
            customer_id=t.customer_id,
            conversation_id=t.conversation_id,
            resolution_note=t.resolution_note,
            resolved_at=int(t.resolved_at) if t.resolved_at is not None else None,
            by=t.resolved_by,
        ),
        t.shop_id,
        f"{events.TICKET_RESOLVED}:{t.ticket_id}:{t.resolved_at}",
        occurred_at=int(t.resolved_at),
    )


def add_comment(actor: StaffActor, ticket_id: str, req: NewComment) -> dict:
    """An internal note, or a public comment that goes to the customer through the reply path
    of the linked conversation (stored only when there is none, or it is closed)."""
    p.require(actor, p.TICKETS_WORK)
    t = _load(actor, ticket_id)
    if not _can_work(actor, t):
        raise Forbidden("ticket is assigned to another agent", code="not_your_ticket")
    _check_attachments(actor, req.attachments)
    message_id, delivery = None, None
    if req.visibility == "public":
        message_id, delivery = _deliver(actor, t, req)
    for _ in range(MAX_RETRIES):
        at = now_ms()
        updates: dict[str, Any] = {}
        if req.visibility == "public" and t.first_response_at is None:
            updates["first_response_at"] = at
        comment = {
            "kind": "comment",
            "body": req.body,
            "visibility": req.visibility,
            "attachments": list(req.attachments) or None,
            "message_id": message_id,
            "delivery": delivery,
        }
        try:
            t = write_change(
                t,
                updates,
                [comment],
                actor=actor.actor_id,
                at=at,
                audit=_audit(
                    actor,
                    "ticket.commented",
                    t.ticket_id,
                    None,
                    {"visibility": req.visibility, "message_id": message_id},
                    at,
                ),
            )
            break
        except Conflict:
            t = _load(actor, ticket_id)
    else:
        raise Conflict("ticket keeps changing: reload it and try again", code="stale")
    _publish(
        events.DomainEvent(
            contracts.TicketUpdated(
                ticket_id=t.ticket_id,
                changes={},
                comment={"visibility": req.visibility, "message_id": message_id},
                status=t.status,
                priority=t.priority,
                assignee=t.assignee,
                by=actor.username,
            ),
            t.shop_id,
            f"{events.TICKET_UPDATED}:{t.ticket_id}:{t.version}",
            occurred_at=at,
        )
    )
    return {
        "ticket_id": t.ticket_id,
        "comment": {
            "kind": "comment",
            "actor": actor.actor_id,
            "at": at,
            **{k: v for k, v in comment.items() if k != "kind"},
            "attachments": list(req.attachments),
        },
        "ticket": t.to_public(),
    }


def _deliver(actor: StaffActor, t: Ticket, req: NewComment) -> tuple[str | None, str]:
    if not t.conversation_id:
        return None, "stored"
    from kefu.conversations import replies as conversations
    from kefu.conversations.content import ImageMessage, TextMessage

    try:
        sent = conversations.reply(actor, t.conversation_id, TextMessage(text=req.body))
        for key in req.attachments:
            conversations.reply(actor, t.conversation_id, ImageMessage(media_key=key))
    except Conflict as exc:
        if exc.code != "closed":
            raise
        return None, "stored"  # the customer moved on; the comment stays on the ticket
    except NotFound:
        return None, "stored"
    return sent["message_id"], "sent"
