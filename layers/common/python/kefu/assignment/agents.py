"""Agents' status and capacity: each agent sets their own status; capacity is a supervisor's
setting (`max_capacity`, DEFAULT_CAPACITY until one is set) that an agent may lower for
themself but never raise above; supervisors see everyone's load. Every change is audited in
the same transaction; coming online or gaining capacity announces `agent.slot_freed`, which
makes routing hand out waiting conversations."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.assignment.core import slot_freed_event
from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, Forbidden
from kefu.ids import now_ms
from kefu.storage.shops import StaffMember
from kefu.storage.tx import condition_failed, write_transaction
from kefu.storage.workbench import AGENT_PREFIX, DEFAULT_CAPACITY, AgentState

AgentStatus = Annotated[str, msgspec.Meta(pattern=r"^(online|away|offline)$")]
Capacity = Annotated[int, msgspec.Meta(ge=0, le=50)]


class StatusChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    status: AgentStatus
    capacity: Capacity | None = None


class AgentChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    capacity: Capacity | None = None
    status: AgentStatus | None = None


def _current(shop_id: str, username: str) -> AgentState | None:
    try:
        return AgentState.get(shop_id, AgentState.key(username), consistent_read=True)
    except AgentState.DoesNotExist:
        return None


def _change(
    actor: StaffActor,
    username: str,
    status: str | None,
    capacity: int | None,
    action: str,
    *,
    ceiling: bool = False,
) -> dict:
    """`ceiling`: the supervisor's setting — `capacity` also becomes the agent's max_capacity.
    Otherwise (the agent themself) `capacity` may not exceed max_capacity."""
    before_item = _current(actor.shop_id, username)
    limit = _max_capacity(before_item)
    if capacity is not None and not ceiling and capacity > limit:
        raise Forbidden(
            f"capacity {capacity} is above the {limit} your supervisor set: ask them to raise it",
            code="capacity_above_limit",
            details={"max_capacity": limit},
        )
    before = (
        before_item.to_public()
        if before_item
        else {"username": username, "status": "offline", "capacity": DEFAULT_CAPACITY, "active": 0}
    )
    at = now_ms()
    actions = [
        AgentState.username.set(username),
        AgentState.active.set(AgentState.active | 0),
        AgentState.updated_at.set(at),
    ]
    after = dict(before)
    if status is not None and status != before["status"]:
        actions += [AgentState.status.set(status), AgentState.status_changed_at.set(at)]
        if status == "online":
            actions.append(AgentState.idle_since.set(at))
        after["status"] = status
    else:
        actions.append(AgentState.status.set(AgentState.status | before["status"]))
    if capacity is not None:
        actions.append(AgentState.capacity.set(capacity))
        if ceiling:
            actions.append(AgentState.max_capacity.set(capacity))
        after["capacity"] = capacity
    else:
        actions.append(AgentState.capacity.set(AgentState.capacity | before["capacity"]))
    agent = AgentState(actor.shop_id, AgentState.key(username))
    # Optimistic on the status we compared against, so events describe a real transition.
    unchanged = (
        AgentState.status == before_item.status if before_item else AgentState.sk.does_not_exist()
    )
    if capacity is not None and not ceiling and before_item is not None:
        # The ceiling as read: a supervisor lowering it meanwhile makes this a conflict.
        if before_item.max_capacity is None:
            unchanged &= AgentState.max_capacity.does_not_exist()
        else:
            unchanged &= AgentState.max_capacity == before_item.max_capacity
    try:
        with write_transaction() as tx:
            tx.save(
                staff_change(
                    actor,
                    action=action,
                    target_type="agent",
                    target_id=username,
                    before={k: before.get(k) for k in ("status", "capacity")},
                    after={k: after.get(k) for k in ("status", "capacity")},
                    at_ms=at,
                )
            )
            tx.update(agent, actions, condition=unchanged)
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            raise Conflict("agent status changed meanwhile: try again", code="stale") from None
        raise
    published = []
    if after["status"] != before["status"]:
        published.append(
            events.DomainEvent(
                contracts.AgentStatusChanged(
                    username=username,
                    status=after["status"],
                    previous_status=str(before["status"]) if before["status"] else None,
                    capacity=after["capacity"],
                    by=actor.username,
                ),
                actor.shop_id,
                f"{events.AGENT_STATUS_CHANGED}:{username}:{at}",
                occurred_at=at,
            )
        )
    went_online = after["status"] == "online" and before["status"] != "online"
    more_room = after["status"] == "online" and after["capacity"] > before["capacity"]
    if went_online or more_room:
        reason = "online" if went_online else "capacity"
        published.append(slot_freed_event(actor.shop_id, username, reason, at))
    if published:
        events.publish(*published)
    after["load"] = round(after["active"] / after["capacity"], 3) if after["capacity"] else None
    after["updated_at"] = at
    return after


def set_my_status(actor: StaffActor, change: StatusChange) -> dict:
    p.require(actor, p.AGENT_STATUS_SET)
    return _change(actor, actor.username, change.status, change.capacity, "agent.status_set")


def _max_capacity(state: AgentState | None) -> int:
    if state is None or state.max_capacity is None:
        return DEFAULT_CAPACITY
    return int(state.max_capacity)


def update_agent(actor: StaffActor, username: str, change: AgentChange) -> dict:
    p.require(actor, p.ROUTING_MANAGE)
    if change.capacity is None and change.status is None:
        raise BadRequest("send capacity and/or status", code="empty_change")
    member = StaffMember.get_or_404(
        actor.shop_id,
        StaffMember.key(username),
        message=f"no staff member {username!r} in this shop",
        code="staff_not_found",
    )
    if member.status != "active" and change.status == "online":
        raise Conflict(f"{username} is disabled", code="staff_disabled")
    return _change(actor, username, change.status, change.capacity, "agent.updated", ceiling=True)


def list_agents(actor: StaffActor, *, status: str | None = None) -> list[dict]:
    """Every agent who has set a status (one Query on the shop's AGENT# items)."""
    p.require(actor, p.ROUTING_READ)
    if status is not None and status not in ("online", "away", "offline"):
        raise BadRequest("status must be online, away or offline", code="invalid_status")
    agents = AgentState.query(
        actor.shop_id, AgentState.sk.startswith(AGENT_PREFIX), consistent_read=True
    )
    return [a.to_public() for a in agents if status is None or a.status == status]
