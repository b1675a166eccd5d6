"""What disabling a staff member does besides the staff record (docs/staff.md):

1. their agent state goes offline, so routing gives them nothing more (assignment's conditions
   require `online`; the disabled staff record already refuses their token, so no claim either);
2. each open conversation assigned to them goes back to its queue, keeping its place (its
   original `queued_at` is its rank), one transaction each with its audit record; routing then
   hands it to a colleague (`conversation.transferred` to the queue, as a supervisor's transfer);
3. their WebSocket connections are closed through the Management API.

Every step is idempotent, so disabling again repairs a disable that stopped half way.
"""

from __future__ import annotations

import logging

from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.assignment.core import agent_decrement
from kefu.audit import staff_change
from kefu.auth.actors import StaffActor
from kefu.ids import now_ms
from kefu.storage.connections import Connection, staff_subscriber
from kefu.storage.conversations import Conversation, Wait
from kefu.storage.tx import condition_failed, write_transaction
from kefu.storage.workbench import AgentState

log = logging.getLogger("kefu.staff")

REQUEUE_NOTE = "the assigned agent's account was disabled"


def offboard(actor: StaffActor, username: str, *, request_id: str | None = None) -> dict:
    went_offline = _set_offline(actor, username, request_id)
    requeued = requeue_open_conversations(actor, username, request_id=request_id)
    closed = close_connections(actor.shop_id, username)
    return {"set_offline": went_offline, "requeued": requeued, "connections_closed": closed}


def _set_offline(actor: StaffActor, username: str, request_id: str | None) -> bool:
    at = now_ms()
    agent = AgentState(actor.shop_id, AgentState.key(username))
    try:
        with write_transaction() as tx:
            tx.save(
                staff_change(
                    actor,
                    action="agent.forced_offline",
                    target_type="agent",
                    target_id=username,
                    after={"status": "offline", "reason": "staff_disabled"},
                    request_id=request_id,
                    at_ms=at,
                )
            )
            tx.update(
                agent,
                [
                    AgentState.status.set("offline"),
                    AgentState.status_changed_at.set(at),
                    AgentState.updated_at.set(at),
                ],
                condition=AgentState.sk.exists() & (AgentState.status != "offline"),
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            return False  # never set a status, or already offline: nothing to record
        raise
    events.publish(
        events.DomainEvent(
            contracts.AgentStatusChanged(username=username, status="offline", by=actor.username),
            actor.shop_id,
            f"{events.AGENT_STATUS_CHANGED}:{username}:{at}",
            occurred_at=at,
        )
    )
    return True


def _open_conversations_of(shop_id: str, username: str) -> list[Conversation]:
    # by_status "<shop>#assigned" holds only the shop's currently assigned conversations (bounded
    # by the agents' capacities), where the agent's own index would read their whole history.
    return list(
        Conversation.by_status.query(
            Conversation.status_key(shop_id, "assigned"),
            filter_condition=Conversation.assignee == username,
        )
    )


def requeue_open_conversations(
    actor: StaffActor, username: str, *, request_id: str | None = None
) -> list[str]:
    shop = actor.shop_id
    requeued: list[str] = []
    for conv in _open_conversations_of(shop, username):
        at = now_ms()
        # The customer keeps their place: ranked by when they first queued, not by now.
        queued_at = int(conv.queued_at or conv.opened_at)
        priority = int(conv.priority or 0)
        agent, agent_actions = agent_decrement(shop, username, at)
        try:
            with write_transaction() as tx:
                tx.save(
                    staff_change(
                        actor,
                        action="conversation.requeued",
                        target_type="conversation",
                        target_id=conv.conversation_id,
                        before={"status": conv.status, "assignee": username, "queue": conv.queue},
                        after={
                            "status": "queued",
                            "assignee": None,
                            "queue": conv.queue,
                            "queued_at": queued_at,
                            "reason": "staff_disabled",
                        },
                        request_id=request_id,
                        at_ms=at,
                    )
                )
                tx.update(
                    conv,
                    [
                        *Conversation.status_actions(
                            shop,
                            "queued",
                            assignee=None,
                            wait=Wait(conv.queue, priority, queued_at),
                        ),
                        Conversation.transfer_note.set(REQUEUE_NOTE),
                        Conversation.last_activity_at.set(at),
                    ],
                    condition=(Conversation.assignee == username)
                    & (Conversation.status == "assigned"),
                )
                tx.update(agent, agent_actions)
        except TransactWriteError as exc:
            if condition_failed(exc, 1):
                continue  # resolved or moved meanwhile: not theirs any more
            raise
        requeued.append(conv.conversation_id)
        # Routing reassigns a conversation transferred to a queue, never to the agent who let go.
        events.publish(
            events.DomainEvent(
                contracts.ConversationTransferred(
                    conversation_id=conv.conversation_id,
                    from_agent=username,
                    from_queue=conv.queue,
                    to_agent=None,
                    to_queue=conv.queue,
                    note=REQUEUE_NOTE,
                    by=actor.username,
                ),
                shop,
                f"{events.CONVERSATION_TRANSFERRED}:{conv.conversation_id}:{at}",
                occurred_at=at,
            )
        )
    return requeued


def close_connections(shop_id: str, username: str) -> int:
    """Close every WebSocket of the staff member; returns how many were open."""
    from botocore.exceptions import ClientError

    from kefu.realtime.push import forget, management_api

    closed = 0
    for conn in Connection.by_subscriber.query(staff_subscriber(shop_id, username)):
        try:
            management_api().delete_connection(ConnectionId=conn.connection_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "GoneException":
                raise
        forget(conn.connection_id)
        closed += 1
    return closed
