"""Publishing: the draft (entries and the shop dictionary) becomes the index the bot searches.
(Over 500 lines because requesting, building and restoring a publish share one head item and
its conditions; split them apart and each would re-derive the others' invariants.)

Over HTTP a publish is *requested* (`request_publish`): the request is recorded on the head
(`publish_requested_revision`), audited and announced as `knowledge.publish_requested`, and
answered at once, because building the index of a large knowledge base can take longer than
API Gateway waits (29 s). The knowledge_publisher function (kefu.knowledge.publisher) then runs
`build`; the head shows `publishing` until it is done, and `publish_error` if it failed for good.

`build` reads every enabled, unexpired entry of the scope (one paginated Query), builds a
kefu.retrieval.KnowledgeIndex, writes its bytes to S3 under a new key, then records the publish
and points the head at it in one transaction, conditional on the head's published version not
having moved (409 `publish_conflict` if a concurrent publish won). `publish` does the same at
once, for the caller's actor (tests, the bench, seeding). The bot notices the new
`published_version` in the head it reads on every turn and loads the index once
(kefu.knowledge.published).

Entries that are enabled but not yet valid are indexed too: the bot checks each matched entry's
validity when it answers (kefu.knowledge.published.entries_by_id), so a scheduled entry starts
answering on time without another publish.

Restoring a publish points a new version at an earlier version's index (rollback); the objects
are never overwritten or deleted, so every recorded version stays loadable. It is quick, so it
is done in the request, and it cancels a pending publish request (the rollback is the later
decision).
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import TransactWriteError, UpdateError

from kefu import events
from kefu import events_catalog as contracts
from kefu.auth.actors import StaffActor
from kefu.aws import client
from kefu.config import settings
from kefu.errors import Conflict, NotFound, UpstreamUnavailable
from kefu.ids import now_ms
from kefu.knowledge.common import audit, head_change_actions, load_head, resolve_scope
from kefu.knowledge.entries import iter_entries
from kefu.pagination import decode_cursor, take_page
from kefu.storage.knowledge import (
    HEAD,
    PUBLISH_PREFIX,
    KbEntry,
    KbHead,
    KbPublish,
    is_platform_scope,
    publish_sk,
)
from kefu.storage.tx import condition_failed, write_transaction

MAX_WORDS = 2000
# A build takes well under a minute. A request still pending after this has failed without
# saying so (its event was lost, or every attempt timed out): asking again starts a new one
# instead of answering "already publishing" for ever.
REQUEST_STALE_MS = 15 * 60 * 1000
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^\S+$")]


class KbDictionary(msgspec.Struct, forbid_unknown_fields=True):
    """The shop's own words (product names, slang) kept whole when questions are segmented."""

    words: Annotated[list[Word], msgspec.Meta(max_length=MAX_WORDS)]


def index_key(scope: str, version: int) -> str:
    # The random part keeps a losing concurrent publish from overwriting the winner's object.
    return f"{scope}/kb/{version:06d}-{secrets.token_hex(4)}.idx"


def publish_to_public(record: KbPublish) -> dict[str, Any]:
    return {
        "version": int(record.version),
        "published_at": int(record.published_at),
        "published_by": record.published_by,
        "entry_count": int(record.entry_count),
        "size_bytes": int(record.size_bytes),
        "draft_revision": int(record.draft_revision),
        "restored_from": int(record.restored_from) if record.restored_from is not None else None,
        "index_key": record.index_key,
    }


def head_to_public(scope: str, head: KbHead) -> dict[str, Any]:
    draft = int(head.draft_revision or 0)
    published = int(head.published_version or 0)
    return {
        "scope": scope,
        "draft_revision": draft,
        "entry_total": int(head.entry_total or 0),
        "published_version": published,
        "published_at": int(head.published_at) if head.published_at is not None else None,
        "published_by": head.published_by,
        "published_entry_count": int(head.entry_count or 0),
        "index_key": head.index_key,
        "unpublished_changes": draft != int(head.published_draft_revision or 0),
        "dictionary_size": len(head.dictionary or []),
        "updated_at": int(head.updated_at) if head.updated_at is not None else None,
        "publishing": head.publish_requested_revision is not None,
        "publish_requested": _request_to_public(head),
        "publish_error": _error_to_public(head),
    }


def _request_to_public(head: KbHead) -> dict[str, Any] | None:
    if head.publish_requested_revision is None:
        return None
    return {
        "draft_revision": int(head.publish_requested_revision),
        "requested_at": int(head.publish_requested_at or 0),
        "requested_by": head.publish_requested_by,
    }


def _error_to_public(head: KbHead) -> dict[str, Any] | None:
    if head.publish_error is None:
        return None
    return {
        "message": head.publish_error,
        "at": int(head.publish_error_at or 0),
        "draft_revision": int(head.publish_error_revision or 0),
    }


def get_head(actor: StaffActor, scope: str | None) -> dict[str, Any]:
    pk = resolve_scope(actor, scope, manage=False)
    return head_to_public(pk, load_head(pk))


# --- the dictionary --------------------------------------------------------------------------


def get_dictionary(actor: StaffActor, scope: str | None) -> dict[str, Any]:
    pk = resolve_scope(actor, scope, manage=False)
    head = load_head(pk)
    return {
        "scope": pk,
        "words": list(head.dictionary or []),
        "updated_at": int(head.dictionary_updated_at) if head.dictionary_updated_at else None,
    }


def put_dictionary(actor: StaffActor, scope: str | None, req: KbDictionary) -> dict[str, Any]:
    """Replace the word list. It takes effect at the next publish (a draft change)."""
    pk = resolve_scope(actor, scope, manage=True)
    words = list(dict.fromkeys(w.strip() for w in req.words))
    before = list(load_head(pk).dictionary or [])
    if words == before:
        return get_dictionary(actor, scope)
    at = now_ms()
    change = {
        "added": [w for w in words if w not in set(before)],
        "removed": [w for w in before if w not in set(words)],
    }
    with write_transaction() as tx:
        tx.save(
            audit(actor, pk, "knowledge.dictionary_changed", "kb", pk, None, change, at),
        )
        tx.update(
            KbHead(pk, "kb"),
            [
                KbHead.dictionary.set(words),
                KbHead.dictionary_updated_at.set(at),
                *head_change_actions(actor, at),
            ],
        )
    return {"scope": pk, "words": words, "updated_at": at}


# --- publishing ------------------------------------------------------------------------------


def published_entries(scope: str, at: int) -> list[KbEntry]:
    """Enabled, not deleted, not expired: what the bot may answer from."""
    condition = (
        (KbEntry.enabled == True)  # noqa: E712 - a DynamoDB condition, not a comparison
        & KbEntry.deleted_at.does_not_exist()
        & (KbEntry.valid_until.does_not_exist() | (KbEntry.valid_until > at))
    )
    return list(
        iter_entries(
            scope,
            filter_condition=condition,
            attributes=["pk", "sk", "entry_id", "question", "similar_questions"],
        )
    )


def _commit(
    actor: StaffActor,
    scope: str,
    head: KbHead,
    record: KbPublish,
    action: str,
    at: int,
    *,
    cancel_request: bool = False,
) -> None:
    previous = int(head.published_version or 0)
    moved = (
        KbHead.published_version == previous
        if previous
        else KbHead.published_version.does_not_exist()
    )
    after = publish_to_public(record)
    actions = [
        KbHead.published_version.set(record.version),
        KbHead.published_at.set(at),
        KbHead.published_by.set(actor.username),
        KbHead.published_draft_revision.set(record.draft_revision),
        KbHead.index_key.set(record.index_key),
        KbHead.entry_count.set(record.entry_count),
        *_error_removal(),
    ]
    if cancel_request:
        actions.extend(_request_removal())
    try:
        with write_transaction() as tx:
            tx.save(record, condition=KbPublish.sk.does_not_exist())
            tx.save(
                audit(actor, scope, action, "kb", scope, {"published_version": previous}, after, at)
            )
            tx.update(KbHead(scope, HEAD), actions, condition=moved)
    except TransactWriteError as exc:
        if condition_failed(exc, 0) or condition_failed(exc, 2):
            raise Conflict(
                "another publish finished first: look at the knowledge base again and publish "
                "once more if your changes are not in it",
                code="publish_conflict",
            ) from None
        raise


def _request_removal() -> list[Any]:
    return [
        KbHead.publish_requested_revision.remove(),
        KbHead.publish_requested_at.remove(),
        KbHead.publish_requested_by.remove(),
    ]


def _error_removal() -> list[Any]:
    return [
        KbHead.publish_error.remove(),
        KbHead.publish_error_at.remove(),
        KbHead.publish_error_revision.remove(),
    ]


def _updated(scope: str, actions: list[Any], condition: Any) -> bool:
    """One conditional head update; False when its condition did not hold."""
    try:
        KbHead(scope, HEAD).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


# --- requesting a publish (HTTP) -------------------------------------------------------------


def request_publish(actor: StaffActor, scope: str | None) -> dict[str, Any]:
    """Ask for the current draft to be published; answered at once (a GetItem, a transaction
    and a PutEvents). `status` is `publishing` (the head shows the request until
    kefu.knowledge.publisher has built it) or `published` (this draft is already published:
    nothing to do). Asking again while the same draft revision is pending changes nothing and
    gets the same answer."""
    pk = resolve_scope(actor, scope, manage=True)
    head = load_head(pk)
    draft = int(head.draft_revision or 0)
    at = now_ms()
    pending = head.publish_requested_revision
    if pending is not None:
        if int(pending) == draft and at - int(head.publish_requested_at or 0) < REQUEST_STALE_MS:
            return _request_answer(pk, head)
    elif head.published_version and int(head.published_draft_revision or 0) >= draft:
        return _request_answer(pk, head)
    if not head.published_version and not head.entry_total:
        raise Conflict(
            "the knowledge base has no entries: add some, then publish",
            code="nothing_to_publish",
        )
    # Not the same draft revision already pending (a stale request may be replaced): two
    # staff pressing "publish" at once record, audit and announce one request.
    not_pending = (
        KbHead.publish_requested_revision.does_not_exist()
        | (KbHead.publish_requested_revision != draft)
        | (KbHead.publish_requested_at < at - REQUEST_STALE_MS)
    )
    try:
        with write_transaction() as tx:
            tx.save(
                audit(
                    actor,
                    pk,
                    "knowledge.publish_requested",
                    "kb",
                    pk,
                    None,
                    {"draft_revision": draft},
                    at,
                )
            )
            tx.update(
                KbHead(pk, HEAD),
                [
                    KbHead.publish_requested_revision.set(draft),
                    KbHead.publish_requested_at.set(at),
                    KbHead.publish_requested_by.set(actor.username),
                    *_error_removal(),
                ],
                condition=not_pending,
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            return _request_answer(pk, load_head(pk))
        raise
    try:
        events.publish(_requested_event(actor, pk, draft, at))
    except events.PublishFailed as exc:
        # Unannounced, the request would never be built: withdraw it so that asking again
        # starts afresh (if even this fails, the request goes stale and can be replaced).
        with contextlib.suppress(UpdateError):
            _updated(pk, _request_removal(), KbHead.publish_requested_at == at)
        raise UpstreamUnavailable(
            f"the publish could not be queued; publish again: {exc}", code="publish_failed"
        ) from None
    head.publish_requested_revision = draft
    head.publish_requested_at = at
    head.publish_requested_by = actor.username
    head.publish_error = head.publish_error_at = head.publish_error_revision = None
    return _request_answer(pk, head)


def _request_answer(scope: str, head: KbHead) -> dict[str, Any]:
    kb = head_to_public(scope, head)
    return {
        "status": "publishing" if kb["publishing"] else "published",
        "scope": scope,
        "draft_revision": kb["draft_revision"],
        "knowledge_base": kb,
    }


def _requested_event(actor: StaffActor, scope: str, draft: int, at: int) -> events.DomainEvent:
    if is_platform_scope(scope):
        actor = actor.at_home()  # a mall's entries: the mall operator's trail
    return events.DomainEvent(
        data=contracts.KnowledgePublishRequested(
            scope=scope,
            draft_revision=draft,
            requested_by=actor.username,
            requested_by_role=actor.role,
        ),
        # The requester's shop (its audit trail); `scope` is the partition to publish.
        shop_id=actor.shop_id,
        event_id=f"{events.KNOWLEDGE_PUBLISH_REQUESTED}:{scope}:{draft}:{at}",
        occurred_at=at,
    )


# --- building and publishing -----------------------------------------------------------------


def build(scope: str, head: KbHead, actor: StaffActor) -> KbPublish:
    """Build the index of the scope's current draft and publish it as the version after the
    head's (`head` as just read). Announces `knowledge.published` and settles a pending request
    this build covers. Raises Conflict `publish_conflict` if another publish finished first, and
    `nothing_to_publish` when there is no entry to index and nothing published to replace."""
    from kefu.retrieval import Document, KnowledgeIndex  # deferred: jieba is heavy

    at = now_ms()
    # The draft revision is read before the entries: a change made while publishing shows as
    # an unpublished change afterwards, never the other way round.
    draft_revision = int(head.draft_revision or 0)
    documents = [
        Document(e.entry_id, (e.question, *(e.similar_questions or [])))
        for e in published_entries(scope, at)
        if e.entry_id and e.question
    ]
    if not documents and not head.published_version:
        # An empty index is worth publishing only to withdraw a published one.
        raise Conflict(
            "nothing to publish: no entry is enabled and unexpired",
            code="nothing_to_publish",
        )
    blob = KnowledgeIndex.build(documents, head.dictionary or []).to_bytes()
    version = int(head.published_version or 0) + 1
    key = index_key(scope, version)
    client("s3").put_object(
        Bucket=settings().knowledge_bucket,
        Key=key,
        Body=blob,
        ContentType="application/octet-stream",
    )
    record = KbPublish(
        scope,
        publish_sk(version),
        version=version,
        index_key=key,
        entry_count=len(documents),
        size_bytes=len(blob),
        draft_revision=draft_revision,
        published_at=at,
        published_by=actor.username,
    )
    _commit(actor, scope, head, record, "knowledge.published", at)
    announce_published(actor.shop_id, record)
    settle_request(scope, draft_revision)
    return record


def announce_published(shop_id: str, record: KbPublish) -> None:
    """`knowledge.published`; the same id for the same version, so a repeat is dropped."""
    version = int(record.version)
    events.publish(
        events.DomainEvent(
            data=contracts.KnowledgePublished(scope=record.scope, **publish_to_public(record)),
            shop_id=shop_id,
            event_id=f"{events.KNOWLEDGE_PUBLISHED}:{record.scope}:{version}",
            occurred_at=int(record.published_at),
        )
    )


def settle_request(scope: str, built_revision: int) -> bool:
    """A publish of `built_revision` covers a request for it or an earlier one: remove it (not
    a newer request made meanwhile, which its own event builds)."""
    return _updated(scope, _request_removal(), KbHead.publish_requested_revision <= built_revision)


def fail_request(scope: str, requested_revision: int, message: str) -> bool:
    """The request for `requested_revision` failed for good: show why, and stop showing it
    pending (unless a newer request replaced it meanwhile)."""
    return _updated(
        scope,
        [
            KbHead.publish_error.set(message),
            KbHead.publish_error_at.set(now_ms()),
            KbHead.publish_error_revision.set(requested_revision),
            *_request_removal(),
        ],
        KbHead.publish_requested_revision == requested_revision,
    )


def publish(actor: StaffActor, scope: str | None) -> dict[str, Any]:
    """Build and publish the index of the current draft as the next version, now, for `actor`
    (tests, the bench, seeding; over HTTP a publish is requested: request_publish)."""
    pk = resolve_scope(actor, scope, manage=True)
    head = load_head(pk)
    record = build(pk, head, actor)
    head.refresh(consistent_read=True)
    return {"publish": publish_to_public(record), "knowledge_base": head_to_public(pk, head)}


def restore_publish(actor: StaffActor, scope: str | None, version: str) -> dict[str, Any]:
    """Roll back: an earlier version's index is published again as the next version."""
    pk = resolve_scope(actor, scope, manage=True)
    if not version.isdigit():
        raise NotFound(f"no publish {version!r}", code="publish_not_found")
    old = KbPublish.get_or_404(
        pk,
        publish_sk(int(version)),
        consistent_read=True,
        message=f"no publish {version}",
        code="publish_not_found",
    )
    head = load_head(pk)
    at = now_ms()
    new_version = int(head.published_version or 0) + 1
    record = KbPublish(
        pk,
        publish_sk(new_version),
        version=new_version,
        index_key=old.index_key,
        entry_count=old.entry_count,
        size_bytes=old.size_bytes,
        draft_revision=old.draft_revision,
        restored_from=int(old.version),
        published_at=at,
        published_by=actor.username,
    )
    _commit(actor, pk, head, record, "knowledge.publish_restored", at, cancel_request=True)
    head.refresh(consistent_read=True)
    return {"publish": publish_to_public(record), "knowledge_base": head_to_public(pk, head)}


def list_publishes(
    actor: StaffActor, scope: str | None, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first."""
    pk = resolve_scope(actor, scope, manage=False)
    results = KbPublish.query(
        pk,
        KbPublish.sk.startswith(PUBLISH_PREFIX),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=pk),
    )
    items, next_cursor = take_page(results, limit)
    return [publish_to_public(r) for r in items], next_cursor
