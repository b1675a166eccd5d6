"""Knowledge-base entries: a standard question, its similar questions (相似问法), a rich answer,
category, tags, an on/off switch and an optional validity window.

Every change writes, in one transaction: the entry (conditional on the revision the caller
read: 409 `revision_conflict` when someone else changed it first), an immutable snapshot of the
new revision, the head's new draft revision, and the audit record. Deleting marks the entry
deleted and keeps it and its versions, so any version can be restored, deleted or not.

Over 500 lines because an entry's content rules, its reads and its audited writes share the
same validation and keys; its sections (content, reads, writes) are where it would split.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from msgspec import UNSET, UnsetType
from pynamodb.exceptions import TransactWriteError

from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.knowledge.common import (
    audit,
    head_change_actions,
    head_room_condition,
    resolve_scope,
)
from kefu.pagination import decode_cursor, encode_cursor, take_page
from kefu.storage.knowledge import (
    ENTRY_PREFIX,
    HEAD,
    KbEntry,
    KbEntryVersion,
    KbHead,
    entry_sk,
    version_prefix,
    version_sk,
)
from kefu.storage.tx import condition_failed, write_transaction

ENTRY_ID = re.compile(r"^kb_[0-9]{13}[0-9a-f]{10}$")
CONTENT_FIELDS = (
    "question",
    "similar_questions",
    "answer",
    "category",
    "tags",
    "enabled",
    "valid_from",
    "valid_until",
)
# Times without an offset (import files) are the shops' local time.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

Question = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
SimilarQuestions = Annotated[list[Question], msgspec.Meta(max_length=100)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[^|]+$")]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=20)]
Ms = Annotated[int, msgspec.Meta(ge=0, le=9_999_999_999_999)]
Revision = Annotated[int, msgspec.Meta(ge=1)]
MediaId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2048)]


class _Reply(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True):
    pass


class KbTextReply(_Reply, tag="text"):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class KbImageReply(_Reply, tag="image"):
    """A WeChat media id (素材) or an image URL: exactly one."""

    media_id: MediaId | None = None
    url: Url | None = None


class KbMiniProgramPageReply(_Reply, tag="miniprogrampage"):
    """A mini-program page card (小程序卡片), as WeChat's customer-service message sends it."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    pagepath: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    thumb_media_id: MediaId


KbReply = KbTextReply | KbImageReply | KbMiniProgramPageReply
Answer = Annotated[list[KbReply], msgspec.Meta(min_length=1, max_length=5)]


class NewKbEntry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    question: Question
    similar_questions: SimilarQuestions = []
    answer: Answer
    category: Category | None = None
    tags: Tags = []
    enabled: bool = True
    valid_from: Ms | None = None
    valid_until: Ms | None = None


class KbEntryChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent change (null clears category, valid_from, valid_until)."""

    # The entry's revision the change is based on (409 revision_conflict if it moved on).
    revision: Revision
    question: Question | UnsetType = UNSET
    similar_questions: SimilarQuestions | UnsetType = UNSET
    answer: Answer | UnsetType = UNSET
    category: Category | None | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    valid_from: Ms | None | UnsetType = UNSET
    valid_until: Ms | None | UnsetType = UNSET


class KbRestore(msgspec.Struct, forbid_unknown_fields=True):
    revision: Revision  # the entry's current revision


# --- content ---------------------------------------------------------------------------------


def normalise(content: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an entry's content (CONTENT_FIELDS, answer as plain dicts), with
    whitespace trimmed and repeats dropped; BadRequest (`invalid_entry`) when it makes no sense.
    """
    question = content["question"].strip()
    if not question:
        raise BadRequest("question is blank", code="invalid_entry")
    seen = {question.casefold()}
    similar = []
    for raw in content.get("similar_questions") or []:
        q = raw.strip()
        if q and q.casefold() not in seen:
            seen.add(q.casefold())
            similar.append(q)
    answer = [
        msgspec.to_builtins(m) if isinstance(m, msgspec.Struct) else dict(m)
        for m in content["answer"]
    ]
    for n, message in enumerate(answer, 1):
        if message["type"] == "text" and not message["content"].strip():
            raise BadRequest(f"answer message {n}: the text is blank", code="invalid_entry")
        if message["type"] == "image" and bool(message.get("media_id")) == bool(message.get("url")):
            raise BadRequest(
                f"answer message {n}: an image needs either media_id or url", code="invalid_entry"
            )
    category = (content.get("category") or "").strip() or None
    tags = list(dict.fromkeys(t.strip() for t in content.get("tags") or [] if t.strip()))
    valid_from, valid_until = content.get("valid_from"), content.get("valid_until")
    if valid_from is not None and valid_until is not None and valid_from >= valid_until:
        raise BadRequest("valid_from must be before valid_until", code="invalid_entry")
    return {
        "question": question,
        "similar_questions": similar,
        "answer": answer,
        "category": category,
        "tags": tags,
        "enabled": bool(content.get("enabled", True)),
        "valid_from": valid_from,
        "valid_until": valid_until,
    }


def content_of(entry: KbEntry) -> dict[str, Any]:
    return {
        "question": entry.question or "",
        "similar_questions": list(entry.similar_questions or []),
        "answer": list(entry.answer or []),
        "category": entry.category,
        "tags": list(entry.tags or []),
        "enabled": bool(entry.enabled),
        "valid_from": _int(entry.valid_from),
        "valid_until": _int(entry.valid_until),
    }


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def entry_state(content: dict[str, Any], *, deleted: bool, at: int) -> str:
    """active | scheduled (not yet valid) | expired | disabled | deleted."""
    if deleted:
        return "deleted"
    if not content["enabled"]:
        return "disabled"
    if content["valid_until"] is not None and content["valid_until"] <= at:
        return "expired"
    if content["valid_from"] is not None and content["valid_from"] > at:
        return "scheduled"
    return "active"


def to_public(entry: KbEntry, *, at: int | None = None) -> dict[str, Any]:
    content = content_of(entry)
    deleted = entry.deleted_at is not None
    return {
        "entry_id": entry.entry_id,
        "scope": entry.scope,
        **content,
        "state": entry_state(content, deleted=deleted, at=at if at is not None else now_ms()),
        "revision": _int(entry.revision),
        "created_at": _int(entry.created_at),
        "created_by": entry.created_by,
        "updated_at": _int(entry.updated_at),
        "updated_by": entry.updated_by,
        "deleted_at": _int(entry.deleted_at),
        "hits": _int(entry.hits) or 0,
        "helpful": _int(entry.helpful) or 0,
        "unhelpful": _int(entry.unhelpful) or 0,
        "last_hit_at": _int(entry.last_hit_at),
    }


def version_to_public(version: KbEntryVersion) -> dict[str, Any]:
    return {
        "entry_id": version.entry_id,
        "revision": int(version.revision),
        "action": version.action,
        "deleted": bool(version.deleted),
        "restored_from": _int(version.restored_from),
        "at": int(version.at),
        "by": version.by,
        "content": version.content,
    }


def search_text(content: dict[str, Any]) -> str:
    return "\n".join([content["question"], *content["similar_questions"]]).casefold()


def format_time(ms: int | None) -> str:
    """Local time for people (import/export files); milliseconds only when there are any."""
    if ms is None:
        return ""
    local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(LOCAL_TZ)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{ms % 1000:03d}" if ms % 1000 else text


def parse_time(value: Any) -> int | None:
    """Milliseconds from an import cell: empty, epoch milliseconds, a datetime, or ISO 8601
    ("2025-06-01", "2025-06-01 08:00", with an optional offset; local time without one)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool):
        raise ValueError("expected a time")
    elif isinstance(value, int | float):
        return int(value)
    else:
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("/", "-"))
        except ValueError:
            raise ValueError(
                f"{text!r} is not a time: use YYYY-MM-DD HH:MM (Beijing time) or milliseconds"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return int(moment.timestamp() * 1000)


# --- reads -----------------------------------------------------------------------------------


def _not_found(entry_id: str) -> NotFound:
    return NotFound(f"no knowledge-base entry {entry_id!r}", code="entry_not_found")


def load_entry(scope: str, entry_id: str, *, include_deleted: bool = False) -> KbEntry:
    """One GetItem. Another shop's entry is in another partition: simply not found."""
    if not ENTRY_ID.match(entry_id):
        raise _not_found(entry_id)
    try:
        entry = KbEntry.get(scope, entry_sk(entry_id), consistent_read=True)
    except KbEntry.DoesNotExist:
        raise _not_found(entry_id) from None
    if entry.question is None or (entry.deleted_at is not None and not include_deleted):
        raise _not_found(entry_id)
    return entry


def get_entry(actor: StaffActor, scope: str | None, entry_id: str) -> dict[str, Any]:
    pk = resolve_scope(actor, scope, manage=False)
    return to_public(load_entry(pk, entry_id))


def iter_entries(scope: str, *, filter_condition: Any = None, attributes: list[str] | None = None):  # noqa: ANN201 - Iterator[KbEntry]
    """Every entry of a scope (deleted ones too unless filtered), one paginated Query."""
    return KbEntry.query(
        scope,
        KbEntry.sk.startswith(ENTRY_PREFIX),
        filter_condition=filter_condition,
        consistent_read=True,
        attributes_to_get=attributes,
    )


def _bool_param(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false", code="invalid_filter")


def list_entries(
    actor: StaffActor,
    scope: str | None,
    *,
    category: str | None = None,
    tag: str | None = None,
    enabled: str | None = None,
    text: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first. Filters run in the Query (DynamoDB filter expressions), and the page is
    filled up to `limit` matches, so a selective filter still returns full pages; the cursor is
    the key of the last entry returned."""
    pk = resolve_scope(actor, scope, manage=False)
    condition = KbEntry.deleted_at.does_not_exist()
    if category:
        condition &= KbEntry.category == category
    if tag:
        condition &= KbEntry.tags.contains(tag)
    wanted = _bool_param(enabled, "enabled")
    if wanted is not None:
        condition &= KbEntry.enabled == wanted
    if text and text.strip():
        condition &= KbEntry.search_text.contains(text.strip().casefold())
    results = KbEntry.query(
        pk,
        KbEntry.sk.startswith(ENTRY_PREFIX),
        filter_condition=condition,
        scan_index_forward=False,
        last_evaluated_key=decode_cursor(cursor, shop_id=pk),
        page_size=max(limit, 100),
    )
    at = now_ms()
    page: list[KbEntry] = []
    more = False
    for entry in results:
        if len(page) == limit:
            more = True
            break
        page.append(entry)
    next_cursor = (
        encode_cursor({"pk": {"S": pk}, "sk": {"S": page[-1].sk}}) if more and page else None
    )
    return [to_public(e, at=at) for e in page], next_cursor


def list_versions(
    actor: StaffActor, scope: str | None, entry_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; a deleted entry's versions too."""
    pk = resolve_scope(actor, scope, manage=False)
    load_entry(pk, entry_id, include_deleted=True)
    results = KbEntryVersion.query(
        pk,
        KbEntryVersion.sk.startswith(version_prefix(entry_id)),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=pk),
    )
    items, next_cursor = take_page(results, limit)
    return [version_to_public(v) for v in items], next_cursor


# --- writes ----------------------------------------------------------------------------------


def new_entry_item(
    scope: str, entry_id: str, content: dict[str, Any], actor: StaffActor, at: int
) -> KbEntry:
    return KbEntry(
        scope,
        entry_sk(entry_id),
        entry_id=entry_id,
        **_stored(content),
        search_text=search_text(content),
        revision=1,
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
        hits=0,
        helpful=0,
        unhelpful=0,
    )


def _stored(content: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in content.items() if v is not None}


def version_item(
    scope: str,
    entry_id: str,
    revision: int,
    content: dict[str, Any],
    action: str,
    actor: StaffActor,
    at: int,
    *,
    deleted: bool = False,
    restored_from: int | None = None,
) -> KbEntryVersion:
    return KbEntryVersion(
        scope,
        version_sk(entry_id, revision),
        entry_id=entry_id,
        revision=revision,
        action=action,
        content=content,
        deleted=deleted,
        restored_from=restored_from,
        at=at,
        by=actor.username,
    )


def content_actions(content: dict[str, Any]) -> list[Any]:
    """SET the content fields (REMOVE those cleared); counters are never touched, so a change
    cannot lose the bot's concurrent hits."""
    actions = []
    for name in CONTENT_FIELDS:
        attribute = getattr(KbEntry, name)
        value = content[name]
        actions.append(attribute.remove() if value is None else attribute.set(value))
    actions.append(KbEntry.search_text.set(search_text(content)))
    return actions


def revision_actions(revision: int, actor: StaffActor, at: int) -> list[Any]:
    return [
        KbEntry.revision.set(revision),
        KbEntry.updated_at.set(at),
        KbEntry.updated_by.set(actor.username),
    ]


def create_entry(actor: StaffActor, scope: str | None, req: NewKbEntry) -> dict[str, Any]:
    pk = resolve_scope(actor, scope, manage=True)
    content = normalise(msgspec.to_builtins(req))
    at = now_ms()
    entry_id = new_id("kb", at)
    entry = new_entry_item(pk, entry_id, content, actor, at)
    try:
        with write_transaction() as tx:
            tx.save(entry, condition=KbEntry.sk.does_not_exist())
            tx.save(version_item(pk, entry_id, 1, content, "created", actor, at))
            tx.save(
                audit(actor, pk, "knowledge.entry_created", "kb_entry", entry_id, None, content, at)
            )
            tx.update(
                KbHead(pk, HEAD), head_change_actions(actor, at, entries=1), head_room_condition(1)
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 3):
            raise _full() from None
        raise
    return to_public(entry, at=at)


def _full() -> Conflict:
    from kefu.knowledge.common import MAX_ENTRIES

    return Conflict(
        f"the knowledge base holds its maximum of {MAX_ENTRIES} entries: delete some first",
        code="entry_limit_reached",
    )


def _conflict(entry_id: str) -> Conflict:
    return Conflict(
        f"entry {entry_id!r} was changed by someone else: read it again and repeat the change",
        code="revision_conflict",
    )


def write_revision(
    actor: StaffActor,
    entry: KbEntry,
    content: dict[str, Any] | None,
    *,
    action: str,
    expected_revision: int,
    at: int,
    restored_from: int | None = None,
) -> KbEntry:
    """Write the entry's next revision: new content (None: delete it), its snapshot, the head,
    the audit record; conditional on the entry still being at `expected_revision`."""
    pk, entry_id = entry.scope, entry.entry_id
    was_deleted = entry.deleted_at is not None
    deleting = content is None
    revision = expected_revision + 1
    before = None if was_deleted else content_of(entry)
    snapshot = content_of(entry) if deleting else content
    actions = revision_actions(revision, actor, at)
    if deleting:
        actions += [KbEntry.deleted_at.set(at), KbEntry.deleted_by.set(actor.username)]
        live_delta = -1
    else:
        actions += content_actions(content)
        if was_deleted:
            actions += [KbEntry.deleted_at.remove(), KbEntry.deleted_by.remove()]
        live_delta = 1 if was_deleted else 0
    try:
        with write_transaction() as tx:
            tx.save(
                version_item(
                    pk,
                    entry_id,
                    revision,
                    snapshot,
                    action,
                    actor,
                    at,
                    deleted=deleting,
                    restored_from=restored_from,
                ),
                condition=KbEntryVersion.sk.does_not_exist(),
            )
            tx.save(
                audit(
                    actor,
                    pk,
                    f"knowledge.entry_{action}",
                    "kb_entry",
                    entry_id,
                    before,
                    None if deleting else content,
                    at,
                )
            )
            tx.update(entry, actions, condition=KbEntry.revision == expected_revision)
            tx.update(
                KbHead(pk, HEAD),
                head_change_actions(actor, at, entries=live_delta),
                head_room_condition(live_delta) if live_delta > 0 else None,
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0) or condition_failed(exc, 2):
            raise _conflict(entry_id) from None
        if condition_failed(exc, 3):
            raise _full() from None
        raise
    entry.refresh(consistent_read=True)
    return entry


def update_entry(
    actor: StaffActor, scope: str | None, entry_id: str, req: KbEntryChange
) -> dict[str, Any]:
    pk = resolve_scope(actor, scope, manage=True)
    entry = load_entry(pk, entry_id)
    if entry.revision != req.revision:
        raise _conflict(entry_id)
    current = content_of(entry)
    changed = {
        name: getattr(req, name) for name in CONTENT_FIELDS if getattr(req, name) is not UNSET
    }
    if not changed:
        raise BadRequest("send at least one field to change", code="empty_change")
    content = normalise({**current, **changed})
    if content == current:
        return to_public(entry)  # nothing to record: no new revision
    at = now_ms()
    entry = write_revision(
        actor, entry, content, action="updated", expected_revision=req.revision, at=at
    )
    return to_public(entry, at=at)


def delete_entry(
    actor: StaffActor, scope: str | None, entry_id: str, *, revision: str | None = None
) -> dict[str, Any]:
    """Soft delete: the entry leaves the list and the next publish; its versions stay."""
    pk = resolve_scope(actor, scope, manage=True)
    entry = load_entry(pk, entry_id)
    expected = int(entry.revision)
    if revision is not None:
        if not revision.isdigit():
            raise BadRequest("revision must be a number", code="invalid_revision")
        if int(revision) != expected:
            raise _conflict(entry_id)
    at = now_ms()
    entry = write_revision(actor, entry, None, action="deleted", expected_revision=expected, at=at)
    return {"entry_id": entry_id, "deleted": True, "revision": int(entry.revision)}


def restore_version(
    actor: StaffActor, scope: str | None, entry_id: str, revision: str, req: KbRestore
) -> dict[str, Any]:
    """The content of an earlier revision becomes the next revision (a deleted entry comes
    back)."""
    pk = resolve_scope(actor, scope, manage=True)
    entry = load_entry(pk, entry_id, include_deleted=True)
    if entry.revision != req.revision:
        raise _conflict(entry_id)
    if not revision.isdigit():
        raise NotFound(f"entry {entry_id!r} has no revision {revision!r}", code="version_not_found")
    try:
        version = KbEntryVersion.get(pk, version_sk(entry_id, int(revision)), consistent_read=True)
    except KbEntryVersion.DoesNotExist:
        raise NotFound(
            f"entry {entry_id!r} has no revision {revision}", code="version_not_found"
        ) from None
    at = now_ms()
    entry = write_revision(
        actor,
        entry,
        normalise(version.content),
        action="restored",
        expected_revision=req.revision,
        at=at,
        restored_from=int(revision),
    )
    return to_public(entry, at=at)
