"""TicketsTable: tickets with their history and comments, one partition per shop.

pk = shop_id
sk = "TICKET#<ticket_id>"                  the ticket (current state, SLA clocks, breaches)
sk = "TICKET#<ticket_id>#H#<ms>#<n>"       one history item: a field change, a comment, a breach
    -> one Query (sk begins_with "TICKET#<ticket_id>") returns a ticket and its whole history;
       ticket ids have a fixed length, so no ticket's prefix matches another's.
GSI by_status    shop_status   = "<shop>#<status>"       sort updated_at
GSI by_customer  shop_customer = "<shop>#<customer_id>"  sort updated_at  (tickets with a customer)
GSI by_assignee  shop_assignee = "<shop>#<username>"     sort updated_at  (assigned only)
GSI sla_open     shop_sla      = "<shop>"                sort next_due_at (only while a clock runs)
History items carry none of the index attributes, so the indexes hold tickets only.

The ticket-resolution notice de-duplication key lives in RuntimeTable
(pk "TICKETNOTICE#<shop>#<ticket_id>#<resolved_at>", TTL 30 days).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from kefu.storage.base import KefuModel, table_name

STATUSES = ("new", "open", "pending", "resolved", "closed")
ACTIVE_STATUSES = ("new", "open", "pending")
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("complaint", "refund", "exchange", "inquiry", "other")
TICKET_PREFIX = "TICKET#"


def ticket_sk(ticket_id: str) -> str:
    return f"{TICKET_PREFIX}{ticket_id}"


def history_sk(ticket_id: str, at_ms: int, n: str) -> str:
    return f"{TICKET_PREFIX}{ticket_id}#H#{at_ms:013d}#{n}"


def index_attributes(
    shop_id: str, status: str, assignee: str | None, next_due_at: int | None
) -> dict[str, Any]:
    """A ticket's index copies (None: absent), written with every change of status, assignee
    or SLA clock: shop_status, shop_assignee (assigned only), shop_sla (while a clock runs)."""
    return {
        "shop_status": f"{shop_id}#{status}",
        "shop_assignee": f"{shop_id}#{assignee}" if assignee else None,
        "next_due_at": next_due_at,
        "shop_sla": shop_id if next_due_at is not None else None,
    }


def shop_key(shop_id: str, value: str) -> str:
    """by_status's, by_assignee's and by_customer's partition key: "<shop>#<value>"."""
    return f"{shop_id}#{value}"


class _ByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    shop_status = UnicodeAttribute(hash_key=True)
    updated_at = NumberAttribute(range_key=True)


class _ByCustomer(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    shop_customer = UnicodeAttribute(hash_key=True)
    updated_at = NumberAttribute(range_key=True)


class _ByAssignee(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_assignee"
        projection = AllProjection()

    shop_assignee = UnicodeAttribute(hash_key=True)
    updated_at = NumberAttribute(range_key=True)


class _SlaOpen(GlobalSecondaryIndex):
    class Meta:
        index_name = "sla_open"
        projection = AllProjection()

    shop_sla = UnicodeAttribute(hash_key=True)
    next_due_at = NumberAttribute(range_key=True)


class Ticket(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("TICKETS_TABLE", "kefu-tickets")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    version = NumberAttribute(default=1)  # optimistic concurrency: every write bumps it
    type = UnicodeAttribute()
    priority = UnicodeAttribute()
    status = UnicodeAttribute()
    subject = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    # The conversation's last messages when the ticket was made from it.
    context = JSONAttribute(null=True)
    attachments = ListAttribute(of=UnicodeAttribute, null=True)
    watchers = ListAttribute(of=UnicodeAttribute, null=True)
    department = UnicodeAttribute(null=True)
    assignee = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    conversation_id = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    resolved_at = NumberAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    resolution_note = UnicodeAttribute(null=True)
    closed_at = NumberAttribute(null=True)
    # SLA (docs/tickets.md): targets in business minutes; due moments in epoch ms.
    first_response_minutes = NumberAttribute(null=True)
    resolution_minutes = NumberAttribute(null=True)
    first_response_due_at = NumberAttribute(null=True)
    first_response_at = NumberAttribute(null=True)
    resolution_due_at = NumberAttribute(null=True)
    paused_at = NumberAttribute(null=True)  # while pending/resolved/closed: the clock stopped
    paused_minutes = NumberAttribute(default=0)  # business minutes spent paused so far
    breaches = JSONAttribute(null=True)  # [{"kind", "due_at", "at"}], one per kind at most
    # Index keys (sparse where noted in the module docstring).
    shop_status = UnicodeAttribute()
    shop_customer = UnicodeAttribute(null=True)
    shop_assignee = UnicodeAttribute(null=True)
    shop_sla = UnicodeAttribute(null=True)
    next_due_at = NumberAttribute(null=True)

    by_status = _ByStatus()
    by_customer = _ByCustomer()
    by_assignee = _ByAssignee()
    sla_open = _SlaOpen()

    index_attributes = staticmethod(index_attributes)
    status_key = staticmethod(shop_key)
    assignee_key = staticmethod(shop_key)
    customer_key = staticmethod(shop_key)

    @property
    def short_id(self) -> str:
        return self.ticket_id[-8:].upper()

    def to_public(self) -> dict:
        return {
            "ticket_id": self.ticket_id,
            "short_id": self.short_id,
            "type": self.type,
            "priority": self.priority,
            "status": self.status,
            "subject": self.subject,
            "description": self.description,
            "context": self.context or [],
            "attachments": list(self.attachments or []),
            "watchers": list(self.watchers or []),
            "department": self.department,
            "assignee": self.assignee,
            "customer_id": self.customer_id,
            "conversation_id": self.conversation_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "resolution_note": self.resolution_note,
            "closed_at": self.closed_at,
            "sla": {
                "first_response_minutes": self.first_response_minutes,
                "resolution_minutes": self.resolution_minutes,
                "first_response_due_at": self.first_response_due_at,
                "first_response_at": self.first_response_at,
                "resolution_due_at": self.resolution_due_at,
                "paused_at": self.paused_at,
                "paused_minutes": self.paused_minutes or 0,
                "next_due_at": self.next_due_at,
                "breaches": self.breaches or [],
            },
        }


class TicketHistory(KefuModel):
    """kind: created | change | comment | breach. A change names one field with before/after;
    a comment has body, visibility (internal | public) and, when delivered, message_id."""

    class Meta(KefuModel.Meta):
        table_name = table_name("TICKETS_TABLE", "kefu-tickets")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    actor = UnicodeAttribute()  # staff:<username> | system:sla
    at = NumberAttribute()
    field = UnicodeAttribute(null=True)
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)
    body = UnicodeAttribute(null=True)
    visibility = UnicodeAttribute(null=True)
    attachments = ListAttribute(of=UnicodeAttribute, null=True)
    message_id = UnicodeAttribute(null=True)
    delivery = UnicodeAttribute(null=True)  # public comments: sent | stored (no conversation)

    def to_public(self) -> dict:
        out = {"kind": self.kind, "actor": self.actor, "at": self.at}
        if self.kind == "comment":
            out.update(
                body=self.body,
                visibility=self.visibility,
                attachments=list(self.attachments or []),
                message_id=self.message_id,
                delivery=self.delivery,
            )
        else:
            out.update(field=self.field, before=self.before, after=self.after)
        return out


class TicketNotice(KefuModel):
    """RuntimeTable: the resolution notice for one resolution, sent once."""

    class Meta(KefuModel.Meta):
        table_name = table_name("RUNTIME_TABLE", "kefu-runtime")

    pk = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute()
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    msg_key = UnicodeAttribute()

    @staticmethod
    def key(shop_id: str, ticket_id: str, resolved_at: int) -> str:
        return f"TICKETNOTICE#{shop_id}#{ticket_id}#{resolved_at}"
