"""Saved segments and the preview, for the HTTP handlers (docs/segments.md): owners and
supervisors save, change and delete segments (each change with its audit record, in one
transaction); everyone on staff previews, reads and lists their customers. A saved segment keeps
its definition, a count cached when it was last evaluated, and the count's age.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from pynamodb.expressions.update import Action

from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, NotFound
from kefu.ids import new_id, now_ms
from kefu.pagination import decode_cursor, take_page
from kefu.segments import query
from kefu.segments.filters import Filter, check
from kefu.storage.segments import SEGMENT_PREFIX, Segment
from kefu.storage.tx import write_transaction

SEGMENT_ID = re.compile(r"^seg_[0-9]{13}[0-9a-f]{10}$")
MAX_SEGMENTS = 200  # per shop
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
Sort = Annotated[str, msgspec.Meta(pattern=r"^(newest|spend|last_contact)$")]
Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]


class SegmentPreview(msgspec.Struct, forbid_unknown_fields=True):
    filter: Filter
    sort: Sort = "newest"
    limit: Limit = 20


class NewSegment(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    filter: Filter
    description: Description | None = None


class SegmentChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Name | None = None
    filter: Filter | None = None
    description: Description | None = None


_audit = StaffChanges("segment")


def _public(item: Segment, at: int | None = None) -> dict[str, Any]:
    at = at if at is not None else now_ms()
    return {
        "segment_id": item.segment_id,
        "name": item.name,
        "description": item.description,
        "filter": item.definition,
        "count": item.cached_count,
        "counted_at": item.counted_at,
        "count_age_seconds": (at - int(item.counted_at)) // 1000 if item.counted_at else None,
        "created_at": item.created_at,
        "created_by": item.created_by,
        "updated_at": item.updated_at,
        "updated_by": item.updated_by,
    }


def get_segment(shop_id: str, segment_id: str) -> Segment:
    if not SEGMENT_ID.fullmatch(segment_id):
        raise NotFound(f"no segment {segment_id!r}", code="segment_not_found")
    return Segment.get_or_404(
        shop_id,
        Segment.key(segment_id),
        message=f"no segment {segment_id!r}",
        code="segment_not_found",
    )


def preview(actor: StaffActor, req: SegmentPreview) -> dict[str, Any]:
    """The count and first page of a filter being edited (nothing saved)."""
    p.require(actor, p.SEGMENTS_READ)
    check(req.filter)
    return query.page(actor.shop_id, req.filter, req.sort, None, req.limit)


def list_segments(actor: StaffActor, *, limit: int = 50, cursor: str | None = None) -> dict:
    p.require(actor, p.SEGMENTS_READ)
    results = Segment.query(
        actor.shop_id,
        Segment.sk.startswith(SEGMENT_PREFIX),
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=actor.shop_id),
    )
    items, next_cursor = take_page(results, limit)
    at = now_ms()
    return {"segments": [_public(s, at) for s in items], "next_cursor": next_cursor}


def read_segment(actor: StaffActor, segment_id: str) -> dict[str, Any]:
    p.require(actor, p.SEGMENTS_READ)
    return _public(get_segment(actor.shop_id, segment_id))


def _definition(filter_: Filter) -> dict[str, Any]:
    check(filter_)
    return msgspec.to_builtins(filter_)


def create_segment(actor: StaffActor, req: NewSegment) -> dict[str, Any]:
    p.require(actor, p.SEGMENTS_MANAGE)
    definition = _definition(req.filter)
    existing = Segment.count(actor.shop_id, Segment.sk.startswith(SEGMENT_PREFIX))
    if existing >= MAX_SEGMENTS:
        raise BadRequest(f"a shop may save at most {MAX_SEGMENTS} segments", code="segment_limit")
    at = now_ms()
    segment_id = new_id("seg", at)
    counted = query.count(actor.shop_id, req.filter)
    item = Segment(
        actor.shop_id,
        Segment.key(segment_id),
        segment_id=segment_id,
        name=req.name,
        description=req.description,
        definition=definition,
        cached_count=counted,
        counted_at=now_ms(),
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
    )
    after = {"name": req.name, "description": req.description, "filter": definition}
    with write_transaction() as tx:
        tx.save(item, condition=Segment.sk.does_not_exist())
        tx.save(_audit(actor, "segment.created", segment_id, None, after, at))
    return _public(item)


def update_segment(actor: StaffActor, segment_id: str, req: SegmentChange) -> dict[str, Any]:
    p.require(actor, p.SEGMENTS_MANAGE)
    item = get_segment(actor.shop_id, segment_id)
    before = {"name": item.name, "description": item.description, "filter": item.definition}
    at = now_ms()
    actions: list[Action] = [Segment.updated_at.set(at), Segment.updated_by.set(actor.username)]
    after = dict(before)
    if req.name is not None:
        actions.append(Segment.name.set(req.name))
        after["name"] = req.name
    if req.description is not None:
        actions.append(Segment.description.set(req.description))
        after["description"] = req.description
    if req.filter is not None:
        after["filter"] = _definition(req.filter)
        actions += [
            Segment.definition.set(after["filter"]),
            Segment.cached_count.set(query.count(actor.shop_id, req.filter)),
            Segment.counted_at.set(now_ms()),
        ]
    if after == before:
        return _public(item)
    with write_transaction() as tx:
        tx.update(item, actions, condition=Segment.sk.exists())
        tx.save(_audit(actor, "segment.updated", segment_id, before, after, at))
    return _public(get_segment(actor.shop_id, segment_id))


def delete_segment(actor: StaffActor, segment_id: str) -> None:
    p.require(actor, p.SEGMENTS_MANAGE)
    item = get_segment(actor.shop_id, segment_id)
    before = {"name": item.name, "description": item.description, "filter": item.definition}
    at = now_ms()
    with write_transaction() as tx:
        tx.delete(item, condition=Segment.sk.exists())
        tx.save(_audit(actor, "segment.deleted", segment_id, before, None, at))


def refresh_segment(actor: StaffActor, segment_id: str) -> dict[str, Any]:
    """Recount now and cache the count (not a staff change of the definition: not audited)."""
    p.require(actor, p.SEGMENTS_READ)
    item = get_segment(actor.shop_id, segment_id)
    counted = query.count(actor.shop_id, item.definition)
    item.update(
        actions=[Segment.cached_count.set(counted), Segment.counted_at.set(now_ms())],
        condition=Segment.sk.exists(),
    )
    return _public(item)


def segment_customers(
    actor: StaffActor, segment_id: str, *, sort: str, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of the segment's customers, evaluated now (the count refreshed alongside)."""
    p.require(actor, p.SEGMENTS_READ)
    item = get_segment(actor.shop_id, segment_id)
    result = query.page(actor.shop_id, item.definition, sort, cursor, limit)
    return {"segment_id": segment_id, **result}
