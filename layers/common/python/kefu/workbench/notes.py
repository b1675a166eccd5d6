"""Internal notes: staff-only messages in a conversation's timeline.

A note is a message with direction "internal" and type "note". It is never sent: it emits no
`reply.created` (so outbound never sees it), and the customer's view of the conversation skips
it (kefu.conversations.customer). Mentioned colleagues get a `staff.mentioned` event each,
which realtime turns into a notification. Like a reply, a note is not audited separately: the
message itself records who wrote it and when.
"""

from __future__ import annotations

import logging
from typing import Annotated

import msgspec

from kefu import events
from kefu import events_catalog as contracts
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.conversations.service import get_conversation
from kefu.conversations.views import message_view
from kefu.errors import BadRequest
from kefu.ids import new_id, now_ms
from kefu.storage.messages import Message, conversation_key, message_key
from kefu.storage.shops import StaffMember
from kefu.validation import Username

log = logging.getLogger("kefu.workbench")


class NoteRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    mentions: Annotated[list[Username], msgspec.Meta(max_length=20)] = []


def _check_mentions(shop_id: str, usernames: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(usernames))  # de-duplicated, in order
    if not wanted:
        return []
    found = {
        m.username
        for m in StaffMember.batch_get([(shop_id, StaffMember.key(u)) for u in wanted])
        if m.status == "active"
    }
    unknown = [u for u in wanted if u not in found]
    if unknown:
        raise BadRequest(
            f"no active staff member {', '.join(unknown)} in this shop", code="unknown_mention"
        )
    return wanted


def add_note(actor: StaffActor, conversation_id: str, req: NoteRequest) -> dict:
    p.require(actor, p.CONVERSATIONS_REPLY)
    conv = get_conversation(actor, conversation_id)  # visibility: agents, own or unassigned
    mentions = _check_mentions(actor.shop_id, req.mentions)
    at = now_ms()
    message_id = new_id("msg", at)
    msg = Message(
        conversation_key(actor.shop_id, conv.conversation_id),
        message_key(at, message_id),
        shop_id=actor.shop_id,
        conversation_id=conv.conversation_id,
        message_id=message_id,
        customer_id=conv.customer_id,
        direction="internal",
        sender_type="agent",
        sender_id=actor.username,
        type="note",
        content={"text": req.text, "mentions": mentions},
        channel="internal",
        created_at=at,
    )
    msg.save(condition=Message.msg_key.does_not_exist())
    view = message_view(msg)
    view["mentions_notified"] = _notify(actor, conv.conversation_id, msg, mentions, req.text)
    return view


def _notify(
    actor: StaffActor, conversation_id: str, msg: Message, mentions: list[str], text: str
) -> bool:
    mentions = [u for u in mentions if u != actor.username]  # no notice to oneself
    if not mentions:
        return True
    try:
        events.publish(
            *[
                events.DomainEvent(
                    contracts.StaffMentioned(
                        conversation_id=conversation_id,
                        message_id=msg.message_id,
                        msg_key=msg.msg_key,
                        mentioned=username,
                        by=actor.username,
                        text=text[:200],
                    ),
                    actor.shop_id,
                    f"{events.STAFF_MENTIONED}:{msg.message_id}:{username}",
                    occurred_at=int(msg.created_at),
                )
                for username in mentions
            ]
        )
    except Exception:
        # The note is stored and visible; only the notifications are missing. Say so.
        log.exception("could not publish staff.mentioned")
        return False
    return True
