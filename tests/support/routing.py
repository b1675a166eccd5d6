"""Building blocks for routing and assignment tests: agents online, queues, a new conversation
announced to routing as intake would announce it."""

from __future__ import annotations

from kefu import events
from kefu.assignment import agents
from kefu.auth.actors import StaffActor
from kefu.routing import admin, router
from kefu.storage.conversations import Conversation
from kefu.storage.workbench import AgentState

from tests.support.factories import customer_says, make_staff


def online(shop_id: str, username: str, capacity: int = 3, role: str = "agent") -> StaffActor:
    actor = make_staff(shop_id, username, role)
    agents.set_my_status(actor, agents.StatusChange(status="online", capacity=capacity))
    return actor


def queue(
    sup: StaffActor, queue_id: str, members: list[str], strategy: str = "least_loaded"
) -> None:
    admin.create_queue(
        sup, admin.NewQueue(queue_id=queue_id, name=queue_id, strategy=strategy, members=members)
    )


def opened_event(
    shop_id: str,
    conversation_id: str,
    *,
    content: dict | None = None,
    kind: str = "text",
    at: int | None = None,
) -> dict:
    conv = Conversation.get(shop_id, conversation_id)
    return {
        "event_id": f"{events.CONVERSATION_OPENED}:{conversation_id}",
        "type": events.CONVERSATION_OPENED,
        "shop_id": shop_id,
        "occurred_at": at or conv.opened_at,
        "data": {
            "conversation_id": conversation_id,
            "customer_id": conv.customer_id,
            "channel": conv.channel,
            "queue": conv.queue,
            "type": kind,
            "content": content if content is not None else {"text": conv.last_message_preview},
        },
    }


def new_conversation(
    shop_id: str, openid: str, text: str = "在吗？", *, at: int | None = None
) -> str:
    """A customer writes; routing handles the `conversation.opened` event. Returns the id."""
    cid = customer_says(shop_id, openid, text, at=at).conversation_id
    router.handle(opened_event(shop_id, cid, content={"text": text}))
    return cid


def slot_freed(shop_id: str, username: str) -> dict:
    return router.handle(
        {
            "event_id": f"{events.AGENT_SLOT_FREED}:{username}:test",
            "type": events.AGENT_SLOT_FREED,
            "shop_id": shop_id,
            "data": {"username": username, "reason": "test"},
        }
    )


def agent(shop_id: str, username: str) -> AgentState:
    return AgentState.get(shop_id, AgentState.key(username), consistent_read=True)


def conv(shop_id: str, conversation_id: str) -> Conversation:
    return Conversation.get(shop_id, conversation_id, consistent_read=True)
