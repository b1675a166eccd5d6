"""WorkbenchTable: the shop's workbench configuration and live agent state, one partition per shop.

pk = shop_id
sk = "QUEUE#<queue_id>"        a queue: name, strategy, member agents (routing)
sk = "RULESET"                 the ordered routing rules, versioned (routing)
sk = "AGENT#<username>"        an agent's status, capacity and live load `active` (assignment)
sk = "QUICKREPLY#shop#<id>"    a shop-wide quick reply (workbench; supervisors manage)
sk = "QUICKREPLY#user:<username>#<id>"  an agent's personal quick reply (workbench)
sk = "CALENDAR#<id>"           a business-hours calendar, "default" (tickets' SLA)
sk = "SLA#<priority>"          SLA targets for tickets of one priority (tickets)
(other capabilities add their own item kinds to this table: quick replies, calendars, SLA, inbox)

Access: GetItem / BatchGetItem by key; Query with a `begins_with` on the sort key for one kind
(every queue of a shop, every agent of a shop: both bounded by the shop's size, never a Scan).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from kefu.storage.base import KefuModel, table_name

# A queue's id, as requests name it (routing rules and admin, transfers): here, beside the queue
# item, so routing and assignment share it without importing each other.
QueueId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]

QUEUE_PREFIX = "QUEUE#"
AGENT_PREFIX = "AGENT#"
RULESET = "RULESET"

STRATEGIES = ("least_loaded", "round_robin")
AGENT_STATUSES = ("online", "away", "offline")
DEFAULT_CAPACITY = 5


class WorkbenchItem(KefuModel):
    class Meta(KefuModel.Meta):
        abstract = True
        table_name = table_name("WORKBENCH_TABLE", "kefu-workbench")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)


class QueueItem(WorkbenchItem):
    class Meta(WorkbenchItem.Meta):
        abstract = False

    queue_id = UnicodeAttribute()
    name = UnicodeAttribute()
    strategy = UnicodeAttribute(default="least_loaded")
    members = ListAttribute(of=UnicodeAttribute, default=list)
    # The shop's default queue is open to every agent, so nothing routed there is stranded.
    open_to_all = BooleanAttribute(default=False)
    created_at = NumberAttribute()
    updated_at = NumberAttribute()

    @staticmethod
    def key(queue_id: str) -> str:
        return f"{QUEUE_PREFIX}{queue_id}"

    def has_member(self, username: str) -> bool:
        return bool(self.open_to_all) or username in (self.members or [])

    def to_public(self) -> dict:
        return {
            "queue_id": self.queue_id,
            "name": self.name,
            "strategy": self.strategy,
            "members": list(self.members or []),
            "open_to_all": bool(self.open_to_all),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class RuleSetItem(WorkbenchItem):
    class Meta(WorkbenchItem.Meta):
        abstract = False

    version = NumberAttribute(default=0)
    timezone = UnicodeAttribute(default="Asia/Shanghai")
    # zlib-compressed JSON list of rules: thousands of keyword rules fit DynamoDB's 400 KB item.
    rules_blob = BinaryAttribute(null=True, legacy_encoding=False)
    rule_count = NumberAttribute(default=0)
    updated_at = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class AgentState(WorkbenchItem):
    class Meta(WorkbenchItem.Meta):
        abstract = False

    username = UnicodeAttribute()
    status = UnicodeAttribute(default="offline")
    capacity = NumberAttribute(default=DEFAULT_CAPACITY)
    # The supervisor's setting: the agent may lower `capacity` but not raise it above this
    # (DEFAULT_CAPACITY until a supervisor sets one; kefu.assignment.agents).
    max_capacity = NumberAttribute(null=True)
    # Open conversations assigned to the agent; changed only in the same transaction as the
    # conversation's assignee, so it always equals the count of their open conversations.
    active = NumberAttribute(default=0)
    last_assigned_at = NumberAttribute(null=True)
    idle_since = NumberAttribute(null=True)  # last freed a slot or came online
    # The queues the agent is a member of: a mirror of QueueItem.members, written in the same
    # transaction, so that filling the agent's free slot needs no read of every queue.
    queues = UnicodeSetAttribute(null=True)
    status_changed_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)

    @staticmethod
    def key(username: str) -> str:
        return f"{AGENT_PREFIX}{username}"

    def has_room(self) -> bool:
        return self.status == "online" and (self.active or 0) < (self.capacity or 0)

    def to_public(self) -> dict:
        return {
            "username": self.username,
            "status": self.status,
            "capacity": self.capacity,
            "max_capacity": self.max_capacity
            if self.max_capacity is not None
            else DEFAULT_CAPACITY,
            "active": self.active or 0,
            "load": round((self.active or 0) / self.capacity, 3) if self.capacity else None,
            "last_assigned_at": self.last_assigned_at,
            "idle_since": self.idle_since,
            "status_changed_at": self.status_changed_at,
            "queues": sorted(self.queues or []),
        }


QUICKREPLY_PREFIX = "QUICKREPLY#"


class QuickReply(WorkbenchItem):
    """A canned reply. The id says its scope ("qrs_" shop-wide, "qrp_" personal), so a request
    naming only the id still reaches the item with one GetItem; a personal reply's key holds its
    owner, so no agent can address another's."""

    class Meta(WorkbenchItem.Meta):
        abstract = False

    quick_reply_id = UnicodeAttribute()
    scope = UnicodeAttribute()  # shop | personal
    owner = UnicodeAttribute(null=True)  # personal only
    title = UnicodeAttribute()
    text = UnicodeAttribute()
    variables = ListAttribute(of=UnicodeAttribute, default=list)
    # 每组专门话术: offered first to customers with any of these tags or in any of these
    # segments (kefu.workbench.quick_replies); both empty: for everyone.
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    segments = ListAttribute(of=UnicodeAttribute, null=True)
    use_count = NumberAttribute(default=0)
    last_used_at = NumberAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()

    @staticmethod
    def scope_prefix(scope: str, username: str | None = None) -> str:
        if scope == "shop":
            return f"{QUICKREPLY_PREFIX}shop#"
        return f"{QUICKREPLY_PREFIX}user:{username}#"

    @classmethod
    def key(cls, quick_reply_id: str, username: str | None = None) -> str:
        scope = "shop" if quick_reply_id.startswith("qrs_") else "personal"
        return f"{cls.scope_prefix(scope, username)}{quick_reply_id}"

    def to_public(self) -> dict:
        return {
            "quick_reply_id": self.quick_reply_id,
            "scope": self.scope,
            "owner": self.owner,
            "title": self.title,
            "text": self.text,
            "variables": list(self.variables or []),
            "tags": list(self.tags or []),
            "segments": list(self.segments or []),
            "use_count": int(self.use_count or 0),
            "last_used_at": self.last_used_at,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class SlaCalendar(WorkbenchItem):
    """A business-hours calendar in kefu.tickets.calendar's document form (docs/tickets.md)."""

    class Meta(WorkbenchItem.Meta):
        abstract = False

    calendar = JSONAttribute()
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute()

    @staticmethod
    def key(calendar_id: str = "default") -> str:
        return f"CALENDAR#{calendar_id}"


class SlaPolicy(WorkbenchItem):
    """SLA targets (business minutes) for tickets of one priority."""

    class Meta(WorkbenchItem.Meta):
        abstract = False

    priority = UnicodeAttribute()
    first_response_minutes = NumberAttribute()
    resolution_minutes = NumberAttribute()
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute()

    @staticmethod
    def key(priority: str) -> str:
        return f"SLA#{priority}"
