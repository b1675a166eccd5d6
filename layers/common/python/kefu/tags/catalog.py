"""A shop's tag groups and tags (docs/tags.md): list, create, change, delete. Supervisors and the
owner edit them, everyone on staff reads them; every change is written with its audit record
and the head's counts in one transaction, the counts conditional on the shop's limits.

A tag still on customers is not deleted (409 tag_in_use, with how many): take it off first
with a bulk untag job, then delete it. A group that still holds tags is not deleted either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.storage.tags import GROUP_PREFIX, TAG_PREFIX, Tag, TagGroup, TagsHead, TagUsage
from kefu.storage.tx import condition_failed, write_transaction

MAX_TAGS = 1_000  # per shop
MAX_GROUPS = 50  # per shop
TAG_ID = re.compile(r"^tag_\d{13}[0-9a-f]{10}$")
GROUP_ID = re.compile(r"^tgg_\d{13}[0-9a-f]{10}$")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Description = Annotated[str, msgspec.Meta(max_length=200)]
Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9A-Fa-f]{6}$")]
GroupIdText = Annotated[str, msgspec.Meta(pattern=GROUP_ID.pattern)]
Position = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class NewTagGroup(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    description: Description | None = None
    position: Position = 0


class TagGroupEdit(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Name | None = None
    description: Description | None = None
    position: Position | None = None


class NewTag(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    group_id: GroupIdText | None = None
    colour: Colour | None = None
    description: Description | None = None


class TagEdit(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Name | None = None
    group_id: GroupIdText | None = None
    colour: Colour | None = None
    description: Description | None = None


_audit_tag = StaffChanges("tag")
_audit_group = StaffChanges("tag_group")


def _count(tx: TransactWrite, shop_id: str, field: str, delta: int, limit: int) -> None:
    attr = getattr(TagsHead, field)
    condition = (attr.does_not_exist() | (attr < limit)) if delta > 0 else None
    tx.update(TagsHead(shop_id, TagsHead.key()), [attr.add(delta)], condition=condition)


def _tag_not_found(tag_id: str) -> NotFound:
    return NotFound(f"no tag {tag_id!r}", code="tag_not_found")


def _group_not_found(group_id: str) -> NotFound:
    return NotFound(f"no tag group {group_id!r}", code="tag_group_not_found")


def get_tag_item(shop_id: str, tag_id: str) -> Tag:
    if not TAG_ID.match(tag_id):
        raise _tag_not_found(tag_id)
    missing = _tag_not_found(tag_id)
    return Tag.get_or_404(
        shop_id, Tag.key(tag_id), message=missing.message, code=missing.code, consistent_read=True
    )


def _group(shop_id: str, group_id: str) -> TagGroup:
    if not GROUP_ID.match(group_id):
        raise _group_not_found(group_id)
    missing = _group_not_found(group_id)
    return TagGroup.get_or_404(
        shop_id,
        TagGroup.key(group_id),
        message=missing.message,
        code=missing.code,
        consistent_read=True,
    )


def all_tags(shop_id: str) -> list[Tag]:
    return list(Tag.query(shop_id, Tag.sk.startswith(TAG_PREFIX), consistent_read=True))


def require_tags(shop_id: str, tag_ids: Iterable[str]) -> list[str]:
    """The ids, each checked to be a tag of this shop (one BatchGetItem); 400 unknown_tag."""
    ids = list(dict.fromkeys(tag_ids))
    bad = [t for t in ids if not TAG_ID.match(t)]
    if not bad and ids:
        found = {t.tag_id for t in Tag.batch_get([(shop_id, Tag.key(t)) for t in ids])}
        bad = [t for t in ids if t not in found]
    if bad:
        raise BadRequest(f"unknown tag(s): {', '.join(bad[:5])}", code="unknown_tag")
    return ids


def usage(shop_id: str, tag_id: str) -> int:
    """How many customers carry the tag (its counter's shards, one BatchGetItem)."""
    return sum(int(u.carried or 0) for u in TagUsage.batch_get(TagUsage.keys(shop_id, tag_id)))


def _check_name(shop_id: str, name: str, *, except_id: str | None = None) -> None:
    folded = name.strip().casefold()
    for tag in all_tags(shop_id):
        if tag.tag_id != except_id and tag.name.strip().casefold() == folded:
            raise Conflict(f"the shop has a tag named {name!r} already", code="tag_name_taken")


# ----------------------------------------------------------------------------- groups


def list_groups(actor: StaffActor) -> dict:
    p.require(actor, p.TAGS_READ)
    groups = TagGroup.query(actor.shop_id, TagGroup.sk.startswith(GROUP_PREFIX))
    ordered = sorted(groups, key=lambda g: (g.position, g.created_at))
    return {"groups": [g.to_public() for g in ordered]}


def create_group(actor: StaffActor, req: NewTagGroup) -> dict:
    p.require(actor, p.TAGS_MANAGE)
    at = now_ms()
    group_id = new_id("tgg", at)
    group = TagGroup(
        actor.shop_id,
        TagGroup.key(group_id),
        group_id=group_id,
        name=req.name.strip(),
        description=req.description,
        position=req.position,
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
    )
    try:
        with write_transaction() as tx:
            tx.save(group, condition=TagGroup.sk.does_not_exist())
            tx.save(
                _audit_group(actor, "tag_group.created", group_id, None, group.definition(), at)
            )
            _count(tx, actor.shop_id, "group_count", 1, MAX_GROUPS)
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            raise BadRequest(
                f"a shop may have at most {MAX_GROUPS} tag groups", code="tag_group_limit"
            ) from None
        raise
    return group.to_public()


def update_group(actor: StaffActor, group_id: str, change: TagGroupEdit) -> dict:
    p.require(actor, p.TAGS_MANAGE)
    group = _group(actor.shop_id, group_id)
    fields = msgspec.to_builtins(change)
    if not fields:
        return group.to_public()
    before = group.definition()
    at = now_ms()
    actions = [getattr(TagGroup, k).set(v) for k, v in fields.items()]
    actions += [TagGroup.updated_at.set(at), TagGroup.updated_by.set(actor.username)]
    try:
        with write_transaction() as tx:
            tx.save(
                _audit_group(actor, "tag_group.updated", group_id, before, {**before, **fields}, at)
            )
            tx.update(group, actions, condition=TagGroup.updated_at == group.updated_at)
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            raise Conflict("the group changed meanwhile: reload it", code="stale") from None
        raise
    return _group(actor.shop_id, group_id).to_public()


def delete_group(actor: StaffActor, group_id: str) -> None:
    p.require(actor, p.TAGS_MANAGE)
    group = _group(actor.shop_id, group_id)
    held = [t.tag_id for t in all_tags(actor.shop_id) if t.group_id == group_id]
    if held:
        raise Conflict(
            f"the group holds {len(held)} tag(s): move or delete them first",
            code="tag_group_not_empty",
        )
    at = now_ms()
    with write_transaction() as tx:
        tx.delete(group)
        tx.save(_audit_group(actor, "tag_group.deleted", group_id, group.definition(), None, at))
        _count(tx, actor.shop_id, "group_count", -1, MAX_GROUPS)


# ----------------------------------------------------------------------------- tags


def list_tags(actor: StaffActor, *, group_id: str | None = None) -> dict:
    p.require(actor, p.TAGS_READ)
    tags = all_tags(actor.shop_id)
    if group_id is not None:
        tags = [t for t in tags if t.group_id == group_id]
    return {"tags": [t.to_public() for t in sorted(tags, key=lambda t: t.created_at)]}


def get_tag(actor: StaffActor, tag_id: str) -> dict:
    p.require(actor, p.TAGS_READ)
    tag = get_tag_item(actor.shop_id, tag_id)
    return {**tag.to_public(), "customers": usage(actor.shop_id, tag_id)}


def create_tag(actor: StaffActor, req: NewTag) -> dict:
    p.require(actor, p.TAGS_MANAGE)
    if req.group_id is not None:
        _group_exists(actor.shop_id, req.group_id)
    _check_name(actor.shop_id, req.name)
    at = now_ms()
    tag_id = new_id("tag", at)
    tag = Tag(
        actor.shop_id,
        Tag.key(tag_id),
        tag_id=tag_id,
        name=req.name.strip(),
        group_id=req.group_id,
        colour=req.colour,
        description=req.description,
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
    )
    try:
        with write_transaction() as tx:
            tx.save(tag, condition=Tag.sk.does_not_exist())
            tx.save(_audit_tag(actor, "tag.created", tag_id, None, tag.definition(), at))
            _count(tx, actor.shop_id, "tag_count", 1, MAX_TAGS)
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            raise BadRequest(f"a shop may have at most {MAX_TAGS} tags", code="tag_limit") from None
        raise
    return tag.to_public()


def _group_exists(shop_id: str, group_id: str) -> None:
    try:
        _group(shop_id, group_id)
    except NotFound:
        raise BadRequest(f"no tag group {group_id!r}", code="unknown_tag_group") from None


def update_tag(actor: StaffActor, tag_id: str, change: TagEdit) -> dict:
    p.require(actor, p.TAGS_MANAGE)
    tag = get_tag_item(actor.shop_id, tag_id)
    fields: dict[str, Any] = msgspec.to_builtins(change)
    if not fields:
        return tag.to_public()
    if fields.get("group_id") is not None:
        _group_exists(actor.shop_id, fields["group_id"])
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        _check_name(actor.shop_id, fields["name"], except_id=tag_id)
    before = tag.definition()
    at = now_ms()
    actions = [getattr(Tag, k).set(v) for k, v in fields.items()]
    actions += [Tag.updated_at.set(at), Tag.updated_by.set(actor.username)]
    try:
        with write_transaction() as tx:
            tx.save(_audit_tag(actor, "tag.updated", tag_id, before, {**before, **fields}, at))
            tx.update(tag, actions, condition=Tag.updated_at == tag.updated_at)
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            raise Conflict("the tag changed meanwhile: reload it", code="stale") from None
        raise
    return get_tag_item(actor.shop_id, tag_id).to_public()


def delete_tag(actor: StaffActor, tag_id: str) -> None:
    """Refused while customers carry the tag (409 tag_in_use): a deleted tag left on profiles
    would still steer routing rules and segments, unseen. Untag them with a bulk job first."""
    p.require(actor, p.TAGS_MANAGE)
    tag = get_tag_item(actor.shop_id, tag_id)
    carried = usage(actor.shop_id, tag_id)
    if carried > 0:
        raise Conflict(
            f"{carried} customer(s) carry this tag: take it off them first (a bulk untag job), "
            "then delete it",
            code="tag_in_use",
        )
    at = now_ms()
    with write_transaction() as tx:
        tx.delete(tag)
        tx.save(_audit_tag(actor, "tag.deleted", tag_id, tag.definition(), None, at))
        _count(tx, actor.shop_id, "tag_count", -1, MAX_TAGS)
