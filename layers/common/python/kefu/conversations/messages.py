"""Reading a conversation's messages page by page. The cursor is the message's sort key, so
`after` is a key-range Query (new messages since the client last looked) and `before` pages back."""

from __future__ import annotations

import re

from kefu.errors import BadRequest
from kefu.storage.messages import Message, conversation_key

_CURSOR = re.compile(r"^\d{13}#[A-Za-z0-9_]{1,64}$")


def _check(cursor: str, name: str) -> str:
    if not _CURSOR.match(cursor):
        raise BadRequest(f"{name} is not a message cursor this API returned", code="invalid_cursor")
    return cursor


def list_messages(
    shop_id: str,
    conversation_id: str,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> tuple[list[Message], bool]:
    """Oldest first. Without after/before: the latest `limit`. Returns (messages, has_more)."""
    key = conversation_key(shop_id, conversation_id)
    if after and before:
        raise BadRequest("use either after or before, not both", code="invalid_cursor")
    if after:
        items = list(Message.query(key, Message.msg_key > _check(after, "after"), limit=limit + 1))
        return items[:limit], len(items) > limit
    condition = Message.msg_key < _check(before, "before") if before else None
    items = list(Message.query(key, condition, scan_index_forward=False, limit=limit + 1))
    page = items[:limit]
    page.reverse()
    return page, len(items) > limit
