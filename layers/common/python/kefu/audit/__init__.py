"""The audit trail: every staff change, sign-in and unmasked personal-data read is recorded with
actor, action, target, before/after. Append-only: records are only ever Put with
`attribute_not_exists` (kefu.storage.audit refuses update and delete), and the table's stream
archives them (docs/staff.md)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from kefu.errors import BadRequest
from kefu.ids import new_id, now_ms
from kefu.pagination import decode_cursor, encode_cursor
from kefu.storage.audit import AuditRecord

log = logging.getLogger("kefu.audit")

# What an audit record can be about (GET /v1/audit?target_type= takes only these).
TARGET_TYPES = frozenset(
    {
        "agent",
        "bot_settings",
        "bot_suggestion",
        "conversation",
        "customer",
        "customer_attribute",
        "job",
        "kb",
        "kb_entry",
        "keyword_rule",
        "message",
        "published_version",
        "queue",
        "quick_reply",
        "routing_rules",
        "segment",
        "shop",
        "sla",
        "tag",
        "tag_group",
        "tag_rule",
        "staff",
        "ticket",
        "tier_settings",
    }
)
_ACTION = re.compile(r"^[a-z][a-z_]{0,40}(\.[a-z][a-z_]{0,40}){0,3}$")
_ACTOR = re.compile(r"^(staff|customer|system|bot|shop_server):[A-Za-z0-9_.@:#-]{1,128}$")
_TARGET_ID = re.compile(r"^[^\x00-\x1f]{1,200}$")
# A filtered page reads at most this many records before it answers with what it found and a
# cursor: a rare actor over a long range costs the caller more pages, never one unbounded read.
MAX_EVALUATED = 1000


def audit_record(
    *,
    shop_id: str,
    actor: str,
    actor_role: str | None,
    action: str,
    target_type: str,
    target_id: str,
    before: Any = None,
    after: Any = None,
    request_id: str | None = None,
    at_ms: int | None = None,
) -> AuditRecord:
    """Build (not save) an audit record, so callers can write it in the same transaction as the
    change it describes: a change without its audit record must not be possible."""
    if target_type not in TARGET_TYPES:  # a filter could never find it: say so, do not fail
        log.warning("audit target type %r is not in kefu.audit.TARGET_TYPES", target_type)
    at = at_ms if at_ms is not None else now_ms()
    audit_id = new_id("au", at)
    return AuditRecord(
        shop_id,
        AuditRecord.sort_key(at, audit_id),
        audit_id=audit_id,
        at=at,
        actor=actor,
        actor_role=actor_role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        shop_target=AuditRecord.target_key(shop_id, target_type, target_id),
        before=before,
        after=after,
        request_id=request_id,
    )


def staff_change(
    actor: Any,
    *,
    action: str,
    target_type: str,
    target_id: str,
    before: Any = None,
    after: Any = None,
    request_id: str | None = None,
    at_ms: int | None = None,
) -> AuditRecord:
    """The audit record of a change made by a staff member (a kefu.auth.actors.StaffActor)."""
    return audit_record(
        shop_id=actor.shop_id,
        actor=actor.actor_id,
        actor_role=actor.role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        request_id=request_id,
        at_ms=at_ms,
    )


def record_access(
    actor: Any,
    *,
    action: str,
    target_type: str,
    target_id: str,
    details: Any = None,
    request_id: str | None = None,
) -> AuditRecord:
    """Record that `actor` was shown unmasked personal data (or an export), BEFORE it is shown:
    if the record cannot be written the read fails, so no such read goes unrecorded."""
    record = staff_change(
        actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        after=details,
        request_id=request_id,
    )
    record.save()
    return record


def record_event(
    *,
    shop_id: str,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: Any = None,
    actor_role: str | None = None,
    request_id: str | None = None,
) -> AuditRecord:
    """A standalone record (a sign-in, a failed sign-in) that belongs to no other write."""
    record = audit_record(
        shop_id=shop_id,
        actor=actor,
        actor_role=actor_role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        after=details,
        request_id=request_id,
    )
    record.save()
    return record


def _check_filters(
    actor: str | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    from_ms: int | None,
    to_ms: int | None,
) -> None:
    if actor is not None and not _ACTOR.match(actor):
        raise BadRequest(
            "actor must look like staff:<username> (or customer:<id>)", code="invalid_actor"
        )
    if action is not None and not _ACTION.match(action):
        raise BadRequest("action must look like staff.created", code="invalid_action")
    if target_type is not None and target_type not in TARGET_TYPES:
        raise BadRequest(
            f"target_type must be one of {', '.join(sorted(TARGET_TYPES))}",
            code="invalid_target_type",
        )
    if target_id is not None and target_type is None:
        raise BadRequest("target_id needs target_type", code="target_type_required")
    if target_id is not None and not _TARGET_ID.match(target_id):
        raise BadRequest("target_id is not a valid id", code="invalid_target_id")
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise BadRequest("from is after to", code="invalid_time")


@dataclass(frozen=True)
class StaffChanges:
    """The audit records of staff changes to one type of target, called with the change's
    parts in order: `_audit = StaffChanges("ticket")`, then `_audit(actor, action, ticket_id,
    before, after, at)` in the transaction that makes the change."""

    target_type: str

    def __call__(
        self, actor: Any, action: str, target_id: str, before: Any, after: Any, at: int
    ) -> AuditRecord:
        return staff_change(
            actor,
            action=action,
            target_type=self.target_type,
            target_id=target_id,
            before=before,
            after=after,
            at_ms=at,
        )


def list_audit(
    shop_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    target: tuple[str, str] | None = None,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
) -> tuple[list[dict], str | None]:
    """Newest first, filtered. Returns (records, cursor).

    Access paths (never a Scan):
      target type + id  Query GSI by_target (shop_target = "<shop>#<type>#<id>", at BETWEEN)
      otherwise         Query the shop's partition, sk BETWEEN "<from ms>" AND "<to ms>~"
    actor, action and a target type without an id are filter expressions on that time-bounded
    Query; a page reads at most MAX_EVALUATED records (docs/staff.md explains why no GSI).
    """
    if target is not None:
        target_type, target_id = target
    _check_filters(actor, action, target_type, target_id, from_ms, to_ms)
    last = decode_cursor(cursor, shop_id=shop_id)
    low = from_ms if from_ms is not None else 0
    high = to_ms if to_ms is not None else 9_999_999_999_999
    conditions = []
    if actor is not None:
        conditions.append(AuditRecord.actor == actor)
    if action is not None:
        conditions.append(AuditRecord.action == action)
    if target_type is not None and target_id is None:
        conditions.append(AuditRecord.target_type == target_type)
    filter_condition = None
    for c in conditions:
        filter_condition = c if filter_condition is None else filter_condition & c
    # Unfiltered: one page of `limit`. Filtered: larger pages, bounded by MAX_EVALUATED.
    page_size = limit if filter_condition is None else min(max(limit * 4, 100), MAX_EVALUATED)
    if target_type is not None and target_id is not None:
        results = AuditRecord.by_target.query(
            AuditRecord.target_key(shop_id, target_type, target_id),
            AuditRecord.at.between(low, high),
            filter_condition=filter_condition,
            scan_index_forward=False,
            page_size=page_size,
            last_evaluated_key=last,
        )
    else:
        results = AuditRecord.query(
            shop_id,
            AuditRecord.audit_key.between(f"{low:013d}", f"{high:013d}~"),
            filter_condition=filter_condition,
            scan_index_forward=False,
            page_size=page_size,
            last_evaluated_key=last,
        )
    records, next_key = _bounded_page(results, limit)
    return [r.to_public() for r in records], encode_cursor(next_key)


def _bounded_page(results: Any, limit: int) -> tuple[list[AuditRecord], dict | None]:
    """Up to `limit` matches, reading pages until then or until MAX_EVALUATED records were
    read; the cursor resumes right after the last record returned (or read)."""
    pages = results.page_iter
    found: list[AuditRecord] = []
    evaluated = 0
    for page in pages:
        items = page.get("Items") or []
        evaluated += int(page.get("ScannedCount", len(items)))
        for i, raw in enumerate(items):
            found.append(AuditRecord.from_raw_data(raw))
            if len(found) == limit:
                more = i < len(items) - 1 or pages.last_evaluated_key is not None
                return found, ({k: raw[k] for k in pages.key_names} if more else None)
        if pages.last_evaluated_key is None:
            return found, None
        if evaluated >= MAX_EVALUATED:
            break
    return found, pages.last_evaluated_key
