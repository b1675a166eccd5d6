"""What clients see of a message."""

from __future__ import annotations

from kefu.media import download_url
from kefu.storage.messages import Message


def message_view(m: Message, *, for_customer: bool = False) -> dict:
    content = dict(m.content.as_dict() if hasattr(m.content, "as_dict") else m.content or {})
    if content.get("media_key"):
        content["url"] = download_url(content["media_key"])
    view = {
        "message_id": m.message_id,
        "conversation_id": m.conversation_id,
        "cursor": m.msg_key,
        "direction": m.direction,
        "sender_type": m.sender_type,
        "type": m.type,
        "content": content,
        "channel": m.channel,
        "created_at": m.created_at,
    }
    if not for_customer:
        view["sender_id"] = m.sender_id
    if m.direction == "out":
        view["delivery_status"] = m.delivery_status
        if not for_customer and m.delivery_error:
            view["delivery_error"] = m.delivery_error
    return view
