"""The knowledge_publisher function's work: build the publish a staff member asked for
(`knowledge.publish_requested`, from kefu.knowledge.publish.request_publish).

The head, not the event, says what is to be done: the pending request
(`publish_requested_revision`). Delivery is at least once, so every step may repeat:
- no request pending (already built, failed for good, or cancelled by a rollback): nothing to do;
- a publish has already built that draft revision (an earlier delivery got that far, or a
  concurrent build won): the request is settled, and `knowledge.published` announced again
  under its id in case that delivery stopped before announcing it;
- otherwise the current draft is built (kefu.knowledge.publish.build). A concurrent publish
  that finishes first makes this one lose its conditional commit, harmlessly: the head is read
  again and the request is either covered by the winner or built once more.

A failure that a retry cannot mend (nothing to publish) is recorded on the head as
`publish_error` and the record succeeds; anything else fails the record, which SQS delivers
again, and the last attempt records `publish_error` before the record goes to the DLQ.
"""

from __future__ import annotations

from typing import Any

from kefu import events
from kefu.auth.actors import StaffActor
from kefu.errors import KefuError
from kefu.events_catalog import KnowledgePublishRequested
from kefu.knowledge import publish
from kefu.knowledge.common import load_head
from kefu.storage.knowledge import KbHead, KbPublish, publish_sk

# Concurrent publishes that finish first, in a row, before the record is handed back to SQS.
MAX_BUILDS = 3


class StillPending(RuntimeError):
    """Concurrent publishes kept winning and the request is still not built: retry later."""


def handle(detail: dict[str, Any] | events.Event, *, last_attempt: bool = False) -> dict[str, Any]:
    """One `knowledge.publish_requested` event -> what was done (for the log line)."""
    event = events.decode(detail)
    data = event.data
    if not isinstance(data, KnowledgePublishRequested):
        return {"skipped": event.type}
    scope = data.scope
    requester = StaffActor(event.shop_id, data.requested_by or "", data.requested_by_role or "")
    pending = 0
    for _ in range(MAX_BUILDS):
        head = load_head(scope)
        if head.publish_requested_revision is None:
            return {"scope": scope, "outcome": "nothing_pending"}
        pending = int(head.publish_requested_revision)
        if _covered(head):
            _settle(scope, head, requester)
            return {
                "scope": scope,
                "outcome": "already_published",
                "version": int(head.published_version or 0),
            }
        try:
            record = publish.build(scope, head, requester)
        except KefuError as exc:
            if exc.code == "publish_conflict":
                continue  # lost to a concurrent publish: read the head again
            # Any other 4xx: this draft cannot be published as it is; a retry changes nothing.
            publish.fail_request(scope, pending, exc.message)
            return {"scope": scope, "outcome": "failed", "error": exc.code}
        except Exception as exc:
            if last_attempt:
                publish.fail_request(scope, pending, _gave_up(exc))
            raise
        return {
            "scope": scope,
            "outcome": "published",
            "version": int(record.version),
            "entry_count": int(record.entry_count),
            "draft_revision": int(record.draft_revision),
        }
    if last_attempt:
        publish.fail_request(scope, pending, _gave_up(None))
    raise StillPending(f"{scope}: {MAX_BUILDS} concurrent publishes finished first")


def _gave_up(exc: Exception | None) -> str:
    reason = type(exc).__name__ if exc else "other publishes kept finishing first"
    return f"the index could not be built ({reason}); publish again, and report it if it persists"


def _covered(head: KbHead) -> bool:
    """A publish has built the requested draft revision (or a later one)."""
    built = int(head.published_draft_revision or 0)
    return bool(head.published_version) and built >= int(head.publish_requested_revision or 0)


def _settle(scope: str, head: KbHead, requester: StaffActor) -> None:
    if int(head.published_at or 0) >= int(head.publish_requested_at or 0):
        # Published after the request, so by a build for it, which may have stopped between
        # its commit and its announcement.
        try:
            record = KbPublish.get(
                scope, publish_sk(int(head.published_version or 0)), consistent_read=True
            )
        except KbPublish.DoesNotExist:
            record = None
        if record is not None:
            publish.announce_published(requester.shop_id, record)
    publish.settle_request(scope, int(head.published_draft_revision or 0))
