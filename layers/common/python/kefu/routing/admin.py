"""Queues and the routing rule set, as supervisors and owners edit them (audited)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pynamodb.exceptions import PutError, TransactWriteError

from kefu import events
from kefu.assignment.core import slot_freed_event
from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import now_ms
from kefu.routing.rules import (
    RoutingRulesPut,
    check_rules,
    decode_rules,
    encode_rules,
)
from kefu.storage.shops import StaffMember
from kefu.storage.tx import condition_failed, write_transaction
from kefu.storage.workbench import (
    DEFAULT_CAPACITY,
    QUEUE_PREFIX,
    RULESET,
    AgentState,
    QueueId,
    QueueItem,
    RuleSetItem,
)
from kefu.validation import Username

Strategy = Annotated[str, msgspec.Meta(pattern=r"^(least_loaded|round_robin)$")]
QueueName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# A queue, its audit record and one mirror update per member fit one transaction (100 items).
Members = Annotated[list[Username], msgspec.Meta(max_length=90)]
MAX_RULESET_BYTES = 350_000  # compressed; DynamoDB's item limit is 400 KB


class NewQueue(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    queue_id: QueueId
    name: QueueName
    strategy: Strategy = "least_loaded"
    members: Members = msgspec.field(default_factory=list)
    open_to_all: bool = False


class QueueChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: QueueName | None = None
    strategy: Strategy | None = None
    members: Members | None = None
    open_to_all: bool | None = None


def _default_queue_id(shop_id: str) -> str:
    from kefu.shops import get_shop

    return get_shop(shop_id).default_queue


def _all_queues(shop_id: str) -> list[QueueItem]:
    return list(QueueItem.query(shop_id, QueueItem.sk.startswith(QUEUE_PREFIX)))


def ensure_default_queue(shop_id: str, queues: list[QueueItem] | None = None) -> list[QueueItem]:
    """The shop's default queue exists (open to every agent), created on first use."""
    queues = _all_queues(shop_id) if queues is None else queues
    default = _default_queue_id(shop_id)
    if any(q.queue_id == default for q in queues):
        return queues
    at = now_ms()
    item = QueueItem(
        shop_id,
        QueueItem.key(default),
        queue_id=default,
        name="默认 default",
        strategy="least_loaded",
        members=[],
        open_to_all=True,
        created_at=at,
        updated_at=at,
    )
    try:
        item.save(condition=QueueItem.sk.does_not_exist())
    except PutError:
        return _all_queues(shop_id)  # created concurrently
    return [*queues, item]


def list_queues(actor: StaffActor) -> list[dict]:
    p.require(actor, p.ROUTING_READ)
    return [q.to_public() for q in ensure_default_queue(actor.shop_id)]


def _check_staff(shop_id: str, usernames: set[str]) -> None:
    if not usernames:
        return
    found = {
        m.username
        for m in StaffMember.batch_get([(shop_id, StaffMember.key(u)) for u in sorted(usernames)])
    }
    missing = sorted(usernames - found)
    if missing:
        raise NotFound(
            f"no staff member(s) {', '.join(missing)} in this shop", code="staff_not_found"
        )


def _membership(tx, shop_id: str, queue_id: str, joined: set[str], left: set[str], at: int) -> None:  # noqa: ANN001
    for username in sorted(joined):
        tx.update(
            AgentState(shop_id, AgentState.key(username)),
            [
                AgentState.username.set(username),
                AgentState.queues.add({queue_id}),
                AgentState.capacity.set(AgentState.capacity | DEFAULT_CAPACITY),
                AgentState.status.set(AgentState.status | "offline"),
                AgentState.active.set(AgentState.active | 0),
                AgentState.updated_at.set(at),
            ],
        )
    for username in sorted(left):
        tx.update(
            AgentState(shop_id, AgentState.key(username)),
            [AgentState.queues.delete({queue_id}), AgentState.updated_at.set(at)],
        )


_queue_audit = StaffChanges("queue")
_rules_audit = StaffChanges("routing_rules")


def create_queue(actor: StaffActor, new: NewQueue) -> dict:
    p.require(actor, p.ROUTING_MANAGE)
    members = sorted(set(new.members))
    _check_staff(actor.shop_id, set(members))
    at = now_ms()
    item = QueueItem(
        actor.shop_id,
        QueueItem.key(new.queue_id),
        queue_id=new.queue_id,
        name=new.name,
        strategy=new.strategy,
        members=members,
        open_to_all=new.open_to_all,
        created_at=at,
        updated_at=at,
    )
    try:
        with write_transaction() as tx:
            tx.save(item, condition=QueueItem.sk.does_not_exist())
            tx.save(_queue_audit(actor, "queue.created", new.queue_id, None, item.to_public(), at))
            _membership(tx, actor.shop_id, new.queue_id, set(members), set(), at)
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            raise Conflict(f"queue {new.queue_id!r} exists", code="queue_exists") from None
        raise
    _announce_room(actor.shop_id, members, "queue_joined", at)
    return item.to_public()


def update_queue(actor: StaffActor, queue_id: str, change: QueueChange) -> dict:
    p.require(actor, p.ROUTING_MANAGE)
    if queue_id == _default_queue_id(actor.shop_id):
        ensure_default_queue(actor.shop_id)
    queue = QueueItem.get_or_404(
        actor.shop_id,
        QueueItem.key(queue_id),
        consistent_read=True,
        message=f"no queue {queue_id!r}",
        code="queue_not_found",
    )
    before = queue.to_public()
    old_members = set(queue.members or [])
    new_members = set(change.members) if change.members is not None else old_members
    _check_staff(actor.shop_id, new_members - old_members)
    at = now_ms()
    actions = [QueueItem.updated_at.set(at)]
    after = dict(before, updated_at=at)
    if change.name is not None:
        actions.append(QueueItem.name.set(change.name))
        after["name"] = change.name
    if change.strategy is not None:
        actions.append(QueueItem.strategy.set(change.strategy))
        after["strategy"] = change.strategy
    if change.members is not None:
        actions.append(QueueItem.members.set(sorted(new_members)))
        after["members"] = sorted(new_members)
    if change.open_to_all is not None:
        actions.append(QueueItem.open_to_all.set(change.open_to_all))
        after["open_to_all"] = change.open_to_all
    joined, left = new_members - old_members, old_members - new_members
    try:
        with write_transaction() as tx:
            tx.save(_queue_audit(actor, "queue.updated", queue_id, before, after, at))
            # Optimistic: the queue must still be as read (membership diff is against it).
            tx.update(queue, actions, condition=QueueItem.updated_at == queue.updated_at)
            _membership(tx, actor.shop_id, queue_id, joined, left, at)
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            raise Conflict("queue changed meanwhile: reload it", code="stale") from None
        raise
    _announce_room(actor.shop_id, sorted(joined), "queue_joined", at)
    return after


def _announce_room(shop_id: str, usernames: list[str], reason: str, at: int) -> None:
    """Agents who joined a queue may take its waiting conversations: one drain each."""
    if usernames:
        events.publish(*(slot_freed_event(shop_id, u, reason, at) for u in usernames))


# ------------------------------------------------------------------------- the rule set


def _ruleset(shop_id: str) -> RuleSetItem | None:
    try:
        return RuleSetItem.get(shop_id, RULESET, consistent_read=True)
    except RuleSetItem.DoesNotExist:
        return None


def _ruleset_view(item: RuleSetItem | None) -> dict:
    if item is None:
        return {
            "version": 0,
            "timezone": "Asia/Shanghai",
            "rules": [],
            "updated_at": None,
            "updated_by": None,
        }
    return {
        "version": item.version,
        "timezone": item.timezone,
        "rules": msgspec.to_builtins(decode_rules(item.rules_blob)),
        "updated_at": item.updated_at,
        "updated_by": item.updated_by,
    }


def get_rules(actor: StaffActor) -> dict:
    p.require(actor, p.ROUTING_READ)
    return _ruleset_view(_ruleset(actor.shop_id))


def put_rules(actor: StaffActor, body: RoutingRulesPut) -> dict:
    """Replace the whole ordered list. Versioned: `version` (when sent) must be the current one."""
    p.require(actor, p.ROUTING_MANAGE)
    check_rules(body.rules, body.timezone)
    queues = {q.queue_id for q in ensure_default_queue(actor.shop_id)}
    unknown = sorted({r.queue for r in body.rules} - queues)
    if unknown:
        raise BadRequest(
            f"rules name unknown queue(s): {', '.join(unknown)} (create them first)",
            code="queue_not_found",
        )
    from kefu.tiers.settings import check_tier_ids

    named = sorted({t for r in body.rules for t in (r.conditions.tiers or [])})
    check_tier_ids(actor.shop_id, named, where="routing rules")
    blob = encode_rules(body.rules)
    if len(blob) > MAX_RULESET_BYTES:
        raise BadRequest(
            f"rule set is {len(blob)} bytes compressed; the limit is {MAX_RULESET_BYTES}",
            code="ruleset_too_large",
        )
    current = _ruleset(actor.shop_id)
    old_version = current.version if current else 0
    if body.version is not None and body.version != old_version:
        raise Conflict(
            f"rule set is at version {old_version}, not {body.version}: reload it",
            code="stale",
        )
    at = now_ms()
    item = RuleSetItem(
        actor.shop_id,
        RULESET,
        version=old_version + 1,
        timezone=body.timezone,
        rules_blob=blob,
        rule_count=len(body.rules),
        updated_at=at,
        updated_by=actor.username,
    )
    condition = RuleSetItem.version == old_version if current else RuleSetItem.sk.does_not_exist()
    summary = lambda v, n: {"version": v, "rule_count": n}  # noqa: E731
    try:
        with write_transaction() as tx:
            tx.save(item, condition=condition)
            tx.save(
                _rules_audit(
                    actor,
                    "routing.rules_updated",
                    "RULESET",
                    summary(old_version, current.rule_count if current else 0),
                    {
                        **summary(item.version, len(body.rules)),
                        "rule_ids": [r.rule_id for r in body.rules[:50]],
                    },
                    at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            raise Conflict("rule set changed meanwhile: reload it", code="stale") from None
        raise
    return _ruleset_view(item)
