"""Assigning a waiting conversation to an agent with room, and nothing else.

The invariants (never over capacity, never two agents, `active` = open conversations assigned)
hold because every assignment is ONE TransactWriteItems of two updates:
  - the agent:        active += 1        if status = online AND active < capacity
  - the conversation: assignee = agent   if attribute_not_exists(assignee) AND status = queued
If either condition fails nothing is written, and the caller tries the next candidate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation, Wait, queue_key
from kefu.storage.tx import condition_failed, write_transaction
from kefu.storage.workbench import (
    AGENT_PREFIX,
    DEFAULT_CAPACITY,
    AgentState,
    QueueItem,
)

ASSIGNED = "assigned"
AGENT_FULL = "agent_full"  # the agent's condition failed: try the next one
TAKEN = "taken"  # the conversation is no longer waiting: stop
MAX_TRIES = 8  # candidates tried per conversation before it waits


@dataclass(frozen=True)
class Route:
    """Where a conversation is routed; written with the assignment (or the waiting state)."""

    queue: str
    priority: int = 0
    rule_id: str | None = None
    queued_at: int = 0
    routed_at: int | None = None  # set when this decision came from the rules


def _route_actions(shop_id: str, route: Route) -> list:
    actions = [
        *Conversation.queue_actions(shop_id, route.queue),
        Conversation.priority.set(route.priority),
        Conversation.queued_at.set(Conversation.queued_at | route.queued_at),
    ]
    if route.routed_at is not None:
        actions.append(Conversation.routed_at.set(route.routed_at))
        if route.rule_id:
            actions.append(Conversation.routed_by_rule.set(route.rule_id))
    return actions


def agent_room_condition():  # noqa: ANN201 - pynamodb condition
    return (AgentState.status == "online") & (AgentState.active < AgentState.capacity)


def agent_claim_condition():  # noqa: ANN201
    """Room, whatever the status (an agent may claim while away). A missing item has the
    default capacity and no load."""
    return AgentState.capacity.does_not_exist() | (AgentState.active < AgentState.capacity)


def agent_increment(shop_id: str, username: str, at: int) -> tuple[AgentState, list]:
    """The agent item and the actions that count one more conversation (creating the item
    with defaults for an agent who never set a status)."""
    return AgentState(shop_id, AgentState.key(username)), [
        AgentState.username.set(username),
        AgentState.active.add(1),
        AgentState.capacity.set(AgentState.capacity | DEFAULT_CAPACITY),
        AgentState.status.set(AgentState.status | "offline"),
        AgentState.last_assigned_at.set(at),
    ]


def agent_decrement(shop_id: str, username: str, at: int) -> tuple[AgentState, list]:
    return AgentState(shop_id, AgentState.key(username)), [
        AgentState.active.add(-1),
        AgentState.idle_since.set(at),
    ]


def try_assign(
    shop_id: str, conversation_id: str, username: str, route: Route, *, at: int | None = None
) -> str:
    at = at if at is not None else now_ms()
    conv = Conversation(shop_id, conversation_id)
    agent, agent_actions = agent_increment(shop_id, username, at)
    try:
        with write_transaction() as tx:
            tx.update(
                conv,
                [
                    *_route_actions(shop_id, route),
                    *Conversation.status_actions(shop_id, "assigned", assignee=username),
                    Conversation.assigned_at.set(at),
                    Conversation.last_activity_at.set(at),
                ],
                condition=Conversation.assignee.does_not_exist()
                & (Conversation.status == "queued"),
            )
            tx.update(agent, agent_actions, condition=agent_room_condition())
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            return TAKEN
        if condition_failed(exc, 1):
            return AGENT_FULL
        if _conflicted(exc):
            return AGENT_FULL  # another write to one of the items was in flight: try elsewhere
        raise
    return ASSIGNED


def _conflicted(exc: TransactWriteError) -> bool:
    return any(
        r is not None and r.code == "TransactionConflict" for r in exc.cancellation_reasons or []
    )


def write_waiting(shop_id: str, conversation_id: str, route: Route) -> bool:
    """Put the conversation in its queue's waiting line (the sparse `waiting` index)."""
    from pynamodb.exceptions import UpdateError

    try:
        Conversation(shop_id, conversation_id).update(
            actions=[
                *_route_actions(shop_id, route),
                *Conversation.waiting_actions(
                    shop_id, Wait(route.queue, route.priority, route.queued_at)
                ),
            ],
            condition=Conversation.assignee.does_not_exist() & (Conversation.status == "queued"),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ------------------------------------------------------------------------- choosing an agent


def get_queue(shop_id: str, queue_id: str) -> QueueItem | None:
    try:
        return QueueItem.get(shop_id, QueueItem.key(queue_id))
    except QueueItem.DoesNotExist:
        return None


def queue_agents(
    shop_id: str, queue: QueueItem | None, extra: Iterable[str] = ()
) -> list[AgentState]:
    """The queue's agents' states: one BatchGetItem of its members, or, for a queue open to
    every agent (the default queue), one Query of the shop's agents."""
    if queue is None or queue.open_to_all:
        return list(
            AgentState.query(shop_id, AgentState.sk.startswith(AGENT_PREFIX), consistent_read=True)
        )
    names = sorted(set(queue.members or []) | set(extra))
    if not names:
        return []
    return list(
        AgentState.batch_get([(shop_id, AgentState.key(n)) for n in names], consistent_read=True)
    )


def candidate_order(
    strategy: str,
    agents: list[AgentState],
    *,
    preferred: str | None = None,
    exclude: Iterable[str] = (),
    members: Iterable[str] | None = None,
) -> list[AgentState]:
    """Online agents with room, best first.

    least_loaded: lowest active ÷ capacity; the longest since their last assignment breaks ties.
    round_robin:  the longest since their last assignment (a rotation that needs no cursor).
    熟客优先: the customer's last agent goes first when they are a member with room.
    """
    skip = set(exclude)
    allowed = set(members) if members is not None else None
    ready = [
        a
        for a in agents
        if a.has_room() and a.username not in skip and (allowed is None or a.username in allowed)
    ]
    if strategy == "round_robin":
        ready.sort(key=lambda a: (a.last_assigned_at or 0, a.username))
    else:
        ready.sort(
            key=lambda a: ((a.active or 0) / a.capacity, a.last_assigned_at or 0, a.username)
        )
    if preferred:
        first = [a for a in ready if a.username == preferred]
        ready = first + [a for a in ready if a.username != preferred]
    return ready


@dataclass(frozen=True)
class Outcome:
    assignee: str | None
    waiting: bool
    taken: bool = False


def assign_or_wait(
    shop_id: str,
    conversation_id: str,
    route: Route,
    *,
    preferred: str | None = None,
    exclude: Iterable[str] = (),
    already_waiting: bool = False,
) -> Outcome:
    """Assign within the routed queue, or leave the conversation waiting in it.

    Requests when someone has room: GetItem queue + BatchGetItem agents + TransactWriteItems.
    When nobody has room it writes the waiting state, then looks once more: a slot freed between
    the first look and the write would otherwise be missed (its `agent.slot_freed` drain ran
    before this conversation was in the waiting line).
    """
    queue = get_queue(shop_id, route.queue)
    members = None if queue is None or queue.open_to_all else list(queue.members or [])
    strategy = queue.strategy if queue else "least_loaded"
    for attempt in range(2):
        agents = queue_agents(shop_id, queue)
        ordered = candidate_order(
            strategy, agents, preferred=preferred, exclude=exclude, members=members
        )
        for agent in ordered[:MAX_TRIES]:
            outcome = try_assign(shop_id, conversation_id, agent.username, route)
            if outcome == ASSIGNED:
                return Outcome(agent.username, waiting=False)
            if outcome == TAKEN:
                return Outcome(None, waiting=False, taken=True)
        if attempt == 0 and not already_waiting:
            if not write_waiting(shop_id, conversation_id, route):
                return Outcome(None, waiting=False, taken=True)
        elif attempt == 0:
            break
    return Outcome(None, waiting=True)


# ------------------------------------------------------------------------- filling a free slot


def _agent_and_queue(
    shop_id: str, username: str, queue_id: str
) -> tuple[AgentState | None, QueueItem | None]:
    """The agent's state and one queue, in one BatchGetItem (same table, same partition)."""
    from kefu.aws import client

    table = AgentState.Meta.table_name
    resp = client("dynamodb").batch_get_item(
        RequestItems={
            table: {
                "Keys": [
                    {"pk": {"S": shop_id}, "sk": {"S": AgentState.key(username)}},
                    {"pk": {"S": shop_id}, "sk": {"S": QueueItem.key(queue_id)}},
                ],
                "ConsistentRead": True,
            }
        }
    )
    agent = queue = None
    for raw in resp.get("Responses", {}).get(table, []):
        if raw["sk"]["S"].startswith(AGENT_PREFIX):
            agent = AgentState.from_raw_data(raw)
        else:
            queue = QueueItem.from_raw_data(raw)
    if resp.get("UnprocessedKeys"):  # throttled: read them one by one
        try:
            agent = AgentState.get(shop_id, AgentState.key(username), consistent_read=True)
        except AgentState.DoesNotExist:
            agent = None
        queue = get_queue(shop_id, queue_id)
    return agent, queue


def drain(shop_id: str, username: str, *, default_queue: str) -> list[str]:
    """An agent has room (came online, resolved, transferred away, more capacity): give them
    the waiting conversations of their queues, highest priority then longest waiting first.

    BatchGetItem (agent + default queue) + one Query on `waiting` per queue of theirs (Limit =
    free slots) + one TransactWriteItems per assignment. No sweep: this runs once per
    `agent.slot_freed` event.
    """
    agent, default = _agent_and_queue(shop_id, username, default_queue)
    if agent is None:
        return []
    free = (agent.capacity or 0) - (agent.active or 0)
    if agent.status != "online" or free <= 0:
        return []
    queues = set(agent.queues or [])
    # The default queue is open to every agent unless a supervisor closed it (or it is not
    # created yet, which behaves as open).
    if default is None or default.open_to_all or default.has_member(username):
        queues.add(default_queue)
    queues = sorted(queues)
    heads: list[Conversation] = []
    for queue_id in queues:
        heads.extend(
            Conversation.waiting.query(
                queue_key(shop_id, queue_id), limit=free, scan_index_forward=True
            )
        )
    heads.sort(key=lambda c: (c.wait_rank or "", c.conversation_id))
    assigned: list[str] = []
    for conv in heads:
        if free <= 0:
            break
        route = Route(conv.queue, int(conv.priority or 0), queued_at=int(conv.queued_at or 0))
        outcome = try_assign(shop_id, conv.conversation_id, username, route)
        if outcome == ASSIGNED:
            assigned.append(conv.conversation_id)
            free -= 1
            publish_assigned(shop_id, conv.conversation_id, username, by="routing")
        elif outcome == AGENT_FULL:
            break  # the agent filled up meanwhile (a claim, another drain)
    return assigned


# ------------------------------------------------------------------------- events


def publish_assigned(
    shop_id: str, conversation_id: str, assignee: str, *, by: str, previous: str | None = None
) -> None:
    at = now_ms()
    events.publish(
        events.DomainEvent(
            contracts.ConversationAssigned(
                conversation_id=conversation_id,
                assignee=assignee,
                previous_assignee=previous,
                by=by,
            ),
            shop_id,
            f"{events.CONVERSATION_ASSIGNED}:{conversation_id}:{at}",
            occurred_at=at,
        )
    )


def slot_freed_event(shop_id: str, username: str, reason: str, at: int) -> events.DomainEvent:
    return events.DomainEvent(
        contracts.AgentSlotFreed(username=username, reason=reason),
        shop_id,
        f"{events.AGENT_SLOT_FREED}:{username}:{at}:{reason}",
        occurred_at=at,
    )
