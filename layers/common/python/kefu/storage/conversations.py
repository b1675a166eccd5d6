"""ConversationsTable: one item per conversation.

pk = shop_id, sk = conversation_id
GSI by_status    shop_status   = "<shop>#<status>"       sort last_activity_at  (queue views)
GSI by_assignee  shop_assignee = "<shop>#<username>"     sort last_activity_at  (assigned only)
GSI by_queue     shop_queue    = "<shop>#<queue>"        sort last_activity_at
GSI by_customer  shop_customer = "<shop>#<customer_id>"  sort opened_at         (history)
GSI by_activity  shop_id                                 sort last_activity_at  (all, newest first)
GSI waiting      wait_queue    = "<shop>#<queue>"        sort wait_rank "<9 - priority>#<queued_at>"
                 (sparse: only while queued unassigned; higher priority, then longest waiting)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from kefu.storage.base import KefuModel, table_name

OPEN_STATUSES = ("bot", "queued", "assigned")
STATUSES = (*OPEN_STATUSES, "resolved", "closed")


class _Keep:
    """The assignee argument's default: leave assignee and shop_assignee as they are."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


@dataclass(frozen=True)
class Wait:
    """A place in a queue's waiting line (the sparse `waiting` index)."""

    queue: str
    priority: int
    queued_at: int


class _ByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    shop_status = UnicodeAttribute(hash_key=True)
    last_activity_at = NumberAttribute(range_key=True)


class _ByAssignee(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_assignee"
        projection = AllProjection()

    shop_assignee = UnicodeAttribute(hash_key=True)
    last_activity_at = NumberAttribute(range_key=True)


class _ByQueue(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_queue"
        projection = AllProjection()

    shop_queue = UnicodeAttribute(hash_key=True)
    last_activity_at = NumberAttribute(range_key=True)


class _ByCustomer(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    shop_customer = UnicodeAttribute(hash_key=True)
    opened_at = NumberAttribute(range_key=True)


class _ByActivity(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    last_activity_at = NumberAttribute(range_key=True)


class _Waiting(GlobalSecondaryIndex):
    class Meta:
        index_name = "waiting"
        projection = AllProjection()

    wait_queue = UnicodeAttribute(hash_key=True)
    wait_rank = UnicodeAttribute(range_key=True)


def wait_rank(priority: int, queued_at: int) -> str:
    """Sorts higher priority first, then the longest waiting (smallest queued_at)."""
    return f"{9 - priority}#{queued_at:013d}"


# The indexes' partition keys: the only place that formats them.
def status_key(shop_id: str, status: str) -> str:
    return f"{shop_id}#{status}"


def assignee_key(shop_id: str, username: str) -> str:
    return f"{shop_id}#{username}"


def queue_key(shop_id: str, queue_id: str) -> str:
    """by_queue's shop_queue and waiting's wait_queue."""
    return f"{shop_id}#{queue_id}"


def customer_key(shop_id: str, customer_id: str) -> str:
    return f"{shop_id}#{customer_id}"


def _status_values(
    shop_id: str, status: str, assignee: str | None | _Keep, wait: Wait | None
) -> dict[str, Any]:
    """Every attribute a status change writes (None: removed), by attribute name. The rules:
    shop_status follows status; shop_assignee follows assignee; wait_queue/wait_rank exist
    only while queued without an agent (and queued_at is set with them)."""
    if status not in STATUSES:
        raise ValueError(f"unknown conversation status {status!r}")
    if wait is not None and (status != "queued" or assignee not in (None, KEEP)):
        raise ValueError("only a queued conversation without an agent waits in a queue")
    values: dict[str, Any] = {"status": status, "shop_status": status_key(shop_id, status)}
    if not isinstance(assignee, _Keep):
        values["assignee"] = assignee
        values["shop_assignee"] = assignee_key(shop_id, assignee) if assignee else None
    if wait is not None:
        values["queued_at"] = wait.queued_at
        values["wait_queue"] = queue_key(shop_id, wait.queue)
        values["wait_rank"] = wait_rank(wait.priority, wait.queued_at)
    elif status != "queued":
        values["wait_queue"] = values["wait_rank"] = None
    return values


class Conversation(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("CONVERSATIONS_TABLE", "kefu-conversations")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    conversation_id = UnicodeAttribute(range_key=True, attr_name="sk")
    customer_id = UnicodeAttribute()
    shop_customer = UnicodeAttribute()
    channel = UnicodeAttribute()
    # Where replies go: "<identity kind>:<external id>", the identity the customer last wrote from.
    reply_to = UnicodeAttribute()
    status = UnicodeAttribute()
    queue = UnicodeAttribute()
    assignee = UnicodeAttribute(null=True)
    shop_status = UnicodeAttribute()
    shop_queue = UnicodeAttribute()
    shop_assignee = UnicodeAttribute(null=True)
    opened_at = NumberAttribute()
    last_activity_at = NumberAttribute()
    last_message_at = NumberAttribute(null=True)
    last_customer_message_at = NumberAttribute(null=True)
    last_message_preview = UnicodeAttribute(null=True)
    message_count = NumberAttribute(default=0)
    unread_count = NumberAttribute(default=0)
    first_response_at = NumberAttribute(null=True)
    assigned_at = NumberAttribute(null=True)
    resolved_at = NumberAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    closed_at = NumberAttribute(null=True)
    # The agent's own marker (workbench): "pending" (waiting on the customer) or "snoozed"
    # (hidden from "mine" until snoozed_until). A customer message clears both (inbound).
    agent_state = UnicodeAttribute(null=True)
    snoozed_until = NumberAttribute(null=True)
    # Routing and assignment (docs/routing.md). wait_queue/wait_rank exist only while waiting.
    priority = NumberAttribute(null=True)  # 0 normal ... 9 highest
    queued_at = NumberAttribute(null=True)
    wait_queue = UnicodeAttribute(null=True)
    wait_rank = UnicodeAttribute(null=True)
    routed_at = NumberAttribute(null=True)
    routed_by_rule = UnicodeAttribute(null=True)
    transfer_note = UnicodeAttribute(null=True)
    # The bot (kefu.bot, docs/bot.md): its memory of this conversation, written only in the
    # transaction that sends its replies, guarded by bot_rev (two turns of one conversation
    # handled at once: the later one retries on the state the first wrote); and why it handed
    # the conversation to a person, for the agent who takes it.
    bot_state = JSONAttribute(null=True)
    bot_rev = NumberAttribute(null=True)
    handoff = JSONAttribute(null=True)

    by_status = _ByStatus()
    by_assignee = _ByAssignee()
    by_queue = _ByQueue()
    by_customer = _ByCustomer()
    by_activity = _ByActivity()
    waiting = _Waiting()

    # The index keys' builders, reachable from the model (module functions above).
    status_key = staticmethod(status_key)
    assignee_key = staticmethod(assignee_key)
    queue_key = staticmethod(queue_key)
    customer_key = staticmethod(customer_key)

    # The only ways to change a conversation's status: they keep its index copies in step.
    def set_status(
        self, status: str, *, assignee: str | None | _Keep = KEEP, wait: Wait | None = None
    ) -> None:
        """In memory (a new item, before it is saved). See `status_actions`."""
        for name, value in _status_values(self.shop_id, status, assignee, wait).items():
            setattr(self, name, value)

    @classmethod
    def status_actions(
        cls,
        shop_id: str,
        status: str,
        *,
        assignee: str | None | _Keep = KEEP,
        wait: Wait | None = None,
    ) -> list[Any]:
        """The update actions that change the status: status and shop_status; assignee and
        shop_assignee if `assignee` is given (None removes them); queued_at, wait_queue and
        wait_rank if `wait` is given, and the wait keys removed for any status but queued."""
        return [
            getattr(cls, name).remove() if value is None else getattr(cls, name).set(value)
            for name, value in _status_values(shop_id, status, assignee, wait).items()
        ]

    @classmethod
    def waiting_actions(cls, shop_id: str, wait: Wait) -> list[Any]:
        """Into the waiting line of a conversation already queued (routing's decision for one
        that was waiting without a place): the wait keys alone, queued_at is the caller's."""
        return [
            cls.wait_queue.set(queue_key(shop_id, wait.queue)),
            cls.wait_rank.set(wait_rank(wait.priority, wait.queued_at)),
        ]

    @classmethod
    def queue_actions(cls, shop_id: str, queue_id: str) -> list[Any]:
        """Move to another queue: queue and its index copy shop_queue."""
        return [cls.queue.set(queue_id), cls.shop_queue.set(queue_key(shop_id, queue_id))]

    def to_public(self) -> dict:
        return {
            "conversation_id": self.conversation_id,
            "shop_id": self.shop_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "status": self.status,
            "queue": self.queue,
            "assignee": self.assignee,
            "opened_at": self.opened_at,
            "last_activity_at": self.last_activity_at,
            "last_message_at": self.last_message_at,
            "last_customer_message_at": self.last_customer_message_at,
            "last_message_preview": self.last_message_preview,
            "message_count": self.message_count,
            "unread_count": self.unread_count,
            "first_response_at": self.first_response_at,
            "assigned_at": self.assigned_at,
            "resolved_at": self.resolved_at,
            "closed_at": self.closed_at,
            "agent_state": self.agent_state,
            "snoozed_until": self.snoozed_until,
            "priority": self.priority or 0,
            "queued_at": self.queued_at,
            "transfer_note": self.transfer_note,
            "handoff": self.handoff,
        }
