"""The staff notification inbox: what an agent missed while away (assignments, transfers, SLA
breaches, mentions). Items live 30 days (TTL) in WorkbenchTable; see kefu.storage.inbox."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import PutError, UpdateError

from kefu.errors import BadRequest
from kefu.ids import now_ms
from kefu.pagination import decode_cursor, encode_cursor
from kefu.storage.inbox import (
    INBOX_TTL_SECONDS,
    InboxItem,
    InboxSeen,
    inbox_key,
    inbox_prefix,
    seen_key,
)

MAX_IDS = 100
_ID = re.compile(r"^n(\d{13})([0-9a-f]{16})$")
NotificationId = Annotated[str, msgspec.Meta(pattern=_ID.pattern)]


class MarkNotificationsRead(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/notifications/read: some notifications by id, or all of them."""

    ids: Annotated[list[NotificationId], msgspec.Meta(max_length=MAX_IDS)] | None = None
    all: bool = False


def item_id(event_id: str, username: str) -> str:
    # Deterministic: a redelivered event names the same item, so it is written once.
    return hashlib.sha256(f"{event_id}|{username}".encode()).hexdigest()[:16]


def public_id(at_ms: int, hid: str) -> str:
    return f"n{at_ms:013d}{hid}"


def _conditional_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def add(
    shop_id: str,
    username: str,
    *,
    event_id: str,
    event_type: str,
    kind: str,
    title: str,
    at_ms: int,
    data: dict[str, Any],
) -> tuple[str, bool]:
    """Store one notification; returns (its public id, whether it is new)."""
    hid = item_id(event_id, username)
    item = InboxItem(
        shop_id,
        inbox_key(username, at_ms, hid),
        username=username,
        kind=kind,
        event_id=event_id,
        event_type=event_type,
        at=at_ms,
        title=title,
        data=data,
        expires_at=int(time.time()) + INBOX_TTL_SECONDS,
    )
    try:
        item.save(condition=InboxItem.sk.does_not_exist())
    except PutError as exc:
        if _conditional_failed(exc):
            return public_id(at_ms, hid), False
        raise
    return public_id(at_ms, hid), True


def _read_all_at(shop_id: str, username: str) -> int:
    try:
        return int(InboxSeen.get(shop_id, seen_key(username), consistent_read=True).read_all_at)
    except InboxSeen.DoesNotExist:
        return 0


def _public(item: InboxItem, read_all_at: int) -> dict[str, Any]:
    hid = item.sk.rsplit("#", 1)[1]
    return {
        "id": public_id(int(item.at), hid),
        "kind": item.kind,
        "event_type": item.event_type,
        "title": item.title,
        "data": item.data or {},
        "at": item.at,
        "read": item.read_at is not None or item.at <= read_all_at,
        "read_at": item.read_at,
    }


def unread_count(shop_id: str, username: str, read_all_at: int | None = None) -> int:
    """Unread items after the "all read" watermark: one Query over that range only."""
    if read_all_at is None:
        read_all_at = _read_all_at(shop_id, username)
    return InboxItem.count(
        shop_id,
        InboxItem.sk.between(
            inbox_key(username, read_all_at + 1, ""), inbox_prefix(username) + "~"
        ),
        filter_condition=InboxItem.read_at.does_not_exist(),
    )


def list_inbox(
    shop_id: str, username: str, *, limit: int, cursor: str | None, unread_only: bool = False
) -> dict[str, Any]:
    _check_cursor_owner(cursor, shop_id, username)
    read_all_at = _read_all_at(shop_id, username)
    lower = inbox_key(username, read_all_at + 1, "") if unread_only else inbox_prefix(username)
    results = InboxItem.query(
        shop_id,
        InboxItem.sk.between(lower, inbox_prefix(username) + "~"),
        filter_condition=InboxItem.read_at.does_not_exist() if unread_only else None,
        scan_index_forward=False,  # newest first
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=shop_id),
    )
    items = [_public(item, read_all_at) for item in results]
    return {
        "notifications": items,
        "next_cursor": encode_cursor(results.last_evaluated_key),
        "unread_count": unread_count(shop_id, username, read_all_at),
    }


def _check_cursor_owner(cursor: str | None, shop_id: str, username: str) -> None:
    key = decode_cursor(cursor, shop_id=shop_id)
    if key and not str(key.get("sk", {}).get("S", "")).startswith(inbox_prefix(username)):
        raise BadRequest("cursor belongs to another inbox", code="invalid_cursor")


def mark_read(
    shop_id: str, username: str, *, ids: list[str] | None = None, all_: bool = False
) -> dict[str, Any]:
    at = now_ms()
    marked = 0
    if all_:
        try:
            InboxSeen(shop_id, seen_key(username), read_all_at=at).save(
                condition=InboxSeen.read_all_at.does_not_exist() | (InboxSeen.read_all_at < at)
            )
        except PutError as exc:
            if not _conditional_failed(exc):
                raise
    else:
        ids = ids or []
        if len(ids) > MAX_IDS:
            raise BadRequest(f"at most {MAX_IDS} ids per request", code="too_many_ids")
        for raw in dict.fromkeys(ids):
            match = _ID.match(raw) if isinstance(raw, str) else None
            if not match:
                raise BadRequest(f"{raw!r} is not a notification id", code="invalid_id")
            key = inbox_key(username, int(match.group(1)), match.group(2))
            try:
                InboxItem(shop_id, key).update(
                    actions=[InboxItem.read_at.set(at)],
                    condition=InboxItem.sk.exists() & InboxItem.read_at.does_not_exist(),
                )
                marked += 1
            except UpdateError as exc:
                if not _conditional_failed(exc):
                    raise  # unknown or already read ids are not errors: reading is idempotent
    return {"marked": marked, "all": all_, "unread_count": unread_count(shop_id, username)}
