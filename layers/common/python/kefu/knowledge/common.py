"""What every knowledge-base operation shares: which partition (scope) a request works on, and
who may touch it.

A request works on the shop it acts on, or with `scope=platform` on the platform-wide entries of
the caller's mall (partition "platform/<mall_id>"), which the bot of every shop of that mall also
answers from. Only the mall's platform staff (role "platform" at the mall's operator shop) may
name that scope; a shop outside any mall has none. Agents read; supervisors and owners edit,
import and publish their shop's entries.
"""

from __future__ import annotations

from typing import Any

from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Forbidden
from kefu.storage.audit import AuditRecord
from kefu.storage.knowledge import (
    HEAD,
    PLATFORM_SCOPE,
    KbHead,
    is_platform_scope,
    platform_scope,
)

# Live entries per scope: bounds publishing (one Query, one index build) and import/export.
MAX_ENTRIES = 10_000


def resolve_scope(actor: StaffActor, scope: str | None, *, manage: bool) -> str:
    """The partition key the request works on, after checking the caller may (read or manage)."""
    if scope is None:
        p.require(actor, p.KNOWLEDGE_MANAGE if manage else p.KNOWLEDGE_READ)
        return actor.shop_id
    if scope != PLATFORM_SCOPE:
        raise BadRequest("scope must be 'platform' or left out", code="invalid_scope")
    mall = platform_mall(actor)
    if mall is None:
        raise Forbidden(
            "platform-wide entries are managed by their mall's platform staff only",
            code="permission_denied",
        )
    return platform_scope(mall)


def platform_mall(actor: StaffActor) -> str | None:
    """The mall whose platform-wide entries the actor manages: platform staff of the mall's
    operator shop (at home or acting on one of its shops), else None."""
    if not actor.can(p.PLATFORM_KNOWLEDGE):
        return None
    if actor.mall_id is not None:  # resolved when acting on another shop (acting_on)
        return actor.mall_id
    from kefu.shops import operated_mall

    return operated_mall(actor.shop_id)


def load_head(scope: str) -> KbHead:
    """The head, or an empty one when the scope has never been written."""
    try:
        return KbHead.get(scope, HEAD, consistent_read=True)
    except KbHead.DoesNotExist:
        return KbHead(scope, HEAD)


def head_change_actions(actor: StaffActor, at: int, *, entries: int = 0) -> list[Any]:
    """Update actions on the head for a draft change: a new draft revision (so the console
    shows unpublished changes) and the live-entry count moved by `entries`."""
    actions = [
        KbHead.draft_revision.add(1),
        KbHead.updated_at.set(at),
        KbHead.updated_by.set(actor.username),
    ]
    if entries:
        actions.append(KbHead.entry_total.add(entries))
    return actions


def head_room_condition(entries: int) -> Any:
    """The head condition that keeps the scope within MAX_ENTRIES after adding `entries`."""
    return KbHead.entry_total.does_not_exist() | (KbHead.entry_total <= MAX_ENTRIES - entries)


def audit(
    actor: StaffActor,
    scope: str,
    action: str,
    target_type: str,
    target_id: str,
    before: Any,
    after: Any,
    at: int,
) -> AuditRecord:
    """The audit record of a knowledge-base change (in the actor's shop's trail, the mall
    operator's for platform-wide changes; the scope is recorded so that they read as such)."""
    if is_platform_scope(scope):
        actor = actor.at_home()

    def with_scope(value: Any) -> Any:
        return {"scope": scope, **value} if isinstance(value, dict) else value

    return staff_change(
        actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=with_scope(before),
        after=with_scope(after),
        at_ms=at,
    )
