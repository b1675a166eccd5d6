"""The audit trail: every staff change is recorded with actor, action, target, before/after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kefu.ids import new_id, now_ms
from kefu.pagination import decode_cursor, take_page
from kefu.storage.audit import AuditRecord


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
) -> tuple[list[dict], str | None]:
    """Newest first; optionally only the records about one target. Returns (records, cursor)."""
    last = decode_cursor(cursor, shop_id=shop_id)
    if target:
        results = AuditRecord.by_target.query(
            AuditRecord.target_key(shop_id, target[0], target[1]),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=last,
        )
    else:
        results = AuditRecord.query(
            shop_id, scan_index_forward=False, limit=limit, last_evaluated_key=last
        )
    records, next_cursor = take_page(results, limit)
    return [r.to_public() for r in records], next_cursor
