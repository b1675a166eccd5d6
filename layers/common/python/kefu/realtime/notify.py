"""Who hears about a domain event, live (WebSocket frames) and in the inbox.

message.received        -> the assignee; else the online members of the conversation's queue;
                           else (no queue configuration) every staff socket of the shop
conversation.assigned,  -> the new and the previous assignee; inbox: the new assignee (unless
conversation.transferred   they took it themselves)
reply.created           -> the customer's sockets (in-app chat); an agent's display name is in the
                           event (read from their staff record for an event without it)
message.delivered,      -> the conversation's assignee, as the event carries it (the reply's, passed
message.undeliverable      on by outbound; read from the conversation for an event without it)
ticket.created/.updated -> assignee + watchers (read from the ticket), supervisors if unassigned;
                           inbox: a newly assigned assignee
ticket.sla_breached     -> assignee + watchers + supervisors; inbox: all of them
staff.mentioned         -> the mentioned staff; inbox: all of them

The actor who caused an event (`by`) is not notified of it. Every frame is best effort (a
closed socket is forgotten); inbox items are idempotent by event id, and each is announced as
`staff.notified` (same event id on a repeat).

Within one SQS batch (`batch`), what does not change between its events is read once: each
conversation (one BatchGetItem for the batch's conversations), each subscriber's connections,
the shop's supervisors, agents' display names, the shop's online staff.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kefu import events
from kefu import events_catalog as contracts
from kefu.realtime import inbox
from kefu.realtime.push import broadcast, frame
from kefu.storage.connections import (
    Connection,
    customer_subscriber,
    staff_online_key,
    staff_subscriber,
)

log = logging.getLogger("kefu.realtime")

SUPERVISOR_ROLES = ("owner", "supervisor")

TITLES = {
    "assigned": "新会话已分配给你",
    "transferred": "有会话转接给你",
    "ticket_assigned": "新工单已分配给你",
    "sla_breached": "工单已超时 (SLA)",
    "mentioned": "有人 @ 了你",
}


@dataclass
class Plan:
    """The recipients of one event."""

    staff: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    all_staff: bool = False  # every staff socket of the shop (no queue configuration to use)
    inbox: dict[str, str] = field(default_factory=dict)  # username -> kind
    data: dict[str, Any] = field(default_factory=dict)  # the frame's data


@dataclass
class Outcome:
    sockets: int = 0
    inbox_new: list[str] = field(default_factory=list)


@dataclass
class BatchCache:
    """What one batch has read already (keys include the shop: a batch mixes shops)."""

    conversations: dict[tuple[str, str], Any] = field(default_factory=dict)
    connections: dict[str, list[str]] = field(default_factory=dict)  # subscriber -> ids
    supervisors: dict[str, list[str]] = field(default_factory=dict)
    names: dict[tuple[str, str], str | None] = field(default_factory=dict)
    staff_online: dict[str, list[str]] = field(default_factory=dict)


_batch: ContextVar[BatchCache | None] = ContextVar("kefu_notify_batch", default=None)

# Events whose recipients depend on the conversation's current assignee.
_READS_CONVERSATION = ("message.received", "message.delivered", "message.undeliverable")


@contextmanager
def batch(detail: Iterable[events.Event] = ()) -> Iterator[BatchCache]:
    """Share reads between the events of one batch; the conversations the events name are
    read up front, together (one BatchGetItem per 100)."""
    cache = BatchCache()
    keys = {
        (e.shop_id, cid)
        for e in detail
        if e.type in _READS_CONVERSATION
        and getattr(e.data, "assignee", msgspec.UNSET) is msgspec.UNSET  # else it is carried
        and isinstance(cid := getattr(e.data, "conversation_id", None), str)
        and cid
    }
    if len(keys) > 1:  # one alone costs the same as a GetItem, read when needed
        from kefu.storage.conversations import Conversation

        for conv in Conversation.batch_get(sorted(keys)):
            cache.conversations[(conv.shop_id, conv.conversation_id)] = conv
        for key in keys:
            cache.conversations.setdefault(key, None)
    token = _batch.set(cache)
    try:
        yield cache
    finally:
        _batch.reset(token)


def _cached(table: str, key: Any, read: Any) -> Any:
    cache = _batch.get()
    if cache is None:
        return read()
    store = getattr(cache, table)
    if key not in store:
        store[key] = read()
    return store[key]


def _conversation(shop_id: str, conversation_id: str | None) -> Any:
    from kefu.storage.conversations import Conversation

    if not conversation_id:
        return None

    def read() -> Any:
        try:
            return Conversation.get(shop_id, conversation_id)
        except Conversation.DoesNotExist:
            return None

    return _cached("conversations", (shop_id, conversation_id), read)


def queue_members(shop_id: str, queue_id: str | None) -> list[str] | None:
    """Members of a queue from routing's configuration; None = everyone (open queue, or the
    shop has no queue configuration yet)."""
    try:
        from kefu.storage.workbench import QueueItem
    except ImportError:  # routing not deployed
        return None
    if not queue_id:
        return None
    try:
        queue = QueueItem.get(shop_id, QueueItem.key(queue_id))
    except QueueItem.DoesNotExist:
        return None
    except Exception:
        log.warning("queue %s unreadable; notifying every agent", queue_id, exc_info=True)
        return None
    if queue.open_to_all:
        return None
    return list(queue.members or [])


def supervisors(shop_id: str) -> list[str]:
    """Active owners and supervisors: one Query of the shop's staff partition (per batch)."""
    from kefu.storage.shops import STAFF_PREFIX, StaffMember

    return list(
        _cached(
            "supervisors",
            shop_id,
            lambda: [
                m.username
                for m in StaffMember.query(shop_id, StaffMember.sk.startswith(STAFF_PREFIX))
                if m.role in SUPERVISOR_ROLES and m.status == "active"
            ],
        )
    )


def ticket_watchers(shop_id: str, ticket_id: str | None) -> list[str]:
    """Watchers are not in ticket events: one GetItem of the ticket (none if unreadable)."""
    if not ticket_id:
        return []
    try:
        from kefu.storage.tickets import Ticket, ticket_sk

        return list(Ticket.get(shop_id, ticket_sk(ticket_id)).watchers or [])
    except Exception:
        log.info("no watchers for ticket %s", ticket_id)
        return []


def customer_facing_sender(shop_id: str, sender: Any) -> dict[str, Any]:
    """What a customer sees of who replied: the kind, and an agent's display name — never the
    username (a sign-in name), as in the customer's REST view of messages."""
    sender = sender if isinstance(sender, dict) else {}
    kind = sender.get("type")
    public: dict[str, Any] = {"type": kind}
    if kind == "agent":
        from kefu.storage.shops import StaffMember

        name = sender.get("name")  # sent with an agent's reply since reply.created carries it
        if "name" not in sender and isinstance(sender.get("id"), str):
            username = sender["id"]

            def read() -> str | None:
                try:
                    return StaffMember.get(shop_id, StaffMember.key(username)).display_name
                except StaffMember.DoesNotExist:
                    return None

            name = _cached("names", (shop_id, username), read)
        public["name"] = name
    return public


def _names(*values: Any) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, str) and value:
            found.add(value)
        elif isinstance(value, list | tuple | set):
            found |= {v for v in value if isinstance(v, str) and v}
    return found


def _by(data: dict[str, Any]) -> str | None:
    by = data.get("by") or data.get("actor")
    if isinstance(by, dict):
        by = by.get("id") or by.get("username")
    return by if isinstance(by, str) else None


def plan(detail: dict[str, Any] | events.Event) -> Plan:
    event = events.decode(detail)
    kind, shop_id = event.type, event.shop_id
    # The frame carries the event's data as published (the contract's fields once decoded).
    raw = detail.get("data") if isinstance(detail, dict) else None
    data: Any = dict(raw) if raw else msgspec.to_builtins(event.data)
    out = Plan(data=data)
    by = _by(data)

    if kind == "message.received":
        conv = _conversation(shop_id, data.get("conversation_id"))
        if conv is not None:
            data.update(assignee=conv.assignee, queue=conv.queue, status=conv.status)
        if conv is not None and conv.assignee:
            out.staff.add(conv.assignee)
        else:
            members = queue_members(shop_id, conv.queue if conv is not None else None)
            if members is None:
                out.all_staff = True
            else:
                out.staff |= set(members)
    elif kind in ("conversation.assigned", "conversation.transferred"):
        # A transfer to a queue names no agent: routing's conversation.assigned follows.
        new = data.get("assignee") or data.get("to_agent")
        previous = data.get("previous_assignee") or data.get("from_agent")
        out.staff |= _names(new, previous)
        if isinstance(new, str) and new and new != by:
            out.inbox[new] = "assigned" if kind == "conversation.assigned" else "transferred"
    elif kind == "reply.created":
        data.pop("reply_to", None)  # the channel address is the server's business
        data["sender"] = customer_facing_sender(shop_id, data.get("sender"))
        if data.get("customer_id"):
            out.customers.add(data["customer_id"])
    elif kind in ("message.delivered", "message.undeliverable"):
        # The assignee the reply carried (outbound passes it on); read for an event without it.
        if "assignee" in data:
            assignee = data["assignee"]
        else:
            conv = _conversation(shop_id, data.get("conversation_id"))
            assignee = conv.assignee if conv is not None else None
        if isinstance(assignee, str) and assignee:
            out.staff.add(assignee)
    elif kind.startswith("ticket."):
        ticket = data.get("ticket") if isinstance(data.get("ticket"), dict) else data
        assignee = ticket.get("assignee")
        watchers = ticket.get("watchers")
        if watchers is None:
            watchers = ticket_watchers(shop_id, ticket.get("ticket_id"))
        out.staff |= _names(assignee, watchers)
        changes = ticket.get("changes") if isinstance(ticket.get("changes"), dict) else {}
        newly_assigned = kind == "ticket.created" or (
            "assignee" in changes
            or ("previous_assignee" in ticket and ticket["previous_assignee"] != assignee)
        )
        if kind == "ticket.sla_breached":
            out.staff |= set(supervisors(shop_id))
            out.inbox.update({name: "sla_breached" for name in out.staff})
        elif not assignee:
            out.staff |= set(supervisors(shop_id))
        elif newly_assigned and assignee != by:
            out.inbox[assignee] = "ticket_assigned"
    elif kind == "staff.mentioned":
        mentioned = _names(
            data.get("mentioned"), data.get("usernames"), data.get("username"), data.get("staff")
        )
        out.staff |= mentioned
        out.inbox.update({name: "mentioned" for name in mentioned})
    if by:
        out.staff.discard(by)
        out.inbox.pop(by, None)
    return out


def _all_staff_subscribers(shop_id: str) -> list[str]:
    return list(
        _cached(
            "staff_online",
            shop_id,
            lambda: [
                c.subscriber for c in Connection.staff_online.query(staff_online_key(shop_id))
            ],
        )
    )


def notify(detail: dict[str, Any] | events.Event) -> Outcome:
    """Fan one domain event out; raises only when the event must be retried (storage, bus)."""
    event = events.decode(detail)
    shop_id, kind, event_id = event.shop_id, event.type, event.event_id or ""
    at = int(event.occurred_at or 0)
    p = plan(detail)
    outcome = Outcome()
    notified: list[events.DomainEvent] = []
    # Inbox first: it is the durable part; a failure here retries the whole record.
    for username, inbox_kind in sorted(p.inbox.items()):
        notification_id, _new = inbox.add(
            shop_id,
            username,
            event_id=event_id,
            event_type=kind,
            kind=inbox_kind,
            title=TITLES[inbox_kind],
            at_ms=at,
            data=p.data,
        )
        if _new:
            outcome.inbox_new.append(notification_id)
        # Re-announced on a repeat with the same id, so a failed publish is completed.
        notified.append(
            events.DomainEvent(
                contracts.StaffNotified(
                    username=username,
                    notification_id=notification_id,
                    kind=inbox_kind,
                    cause={"type": kind, "event_id": event_id},
                ),
                shop_id,
                f"{events.STAFF_NOTIFIED}:{event_id}:{username}",
                occurred_at=at,
            )
        )
    if notified:
        events.publish(*notified)
    payload = frame(kind, p.data, event_id=event_id, at=at)
    subscribers = [staff_subscriber(shop_id, u) for u in sorted(p.staff)]
    if p.all_staff:
        subscribers += _all_staff_subscribers(shop_id)
    subscribers += [customer_subscriber(shop_id, c) for c in sorted(p.customers)]
    if subscribers:
        cache = _batch.get()
        outcome.sockets = broadcast(
            subscribers, payload, cache.connections if cache is not None else None
        )
    return outcome
