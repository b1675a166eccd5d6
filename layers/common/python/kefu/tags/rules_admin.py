"""Auto-tag rules edited (docs/tags.md): list, read, create, change, delete. Supervisors and the
owner edit, staff read. Each change writes, in one transaction, the rule, its audit record, the
head's `rules_revision` + 1 (the tagging function's cached matcher follows the revision) and the
shop profile's `message_tag_rules` (whether an enabled rule matches messages: intake marks the
shop's messages for the tagging function with it). The transaction is conditional on the
revision the change read, so two concurrent changes cannot leave a stale flag: the later one is
409 `stale`. Creating or changing a rule with `backfill: true` also submits a job that tags the
customers the rule matches today (kinds in kefu.tags.rules.BACKFILL_KINDS)."""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from kefu import caches, jobs
from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.matching import VersionedCache
from kefu.storage.shops import PROFILE, ShopProfile
from kefu.storage.tags import RULE_PREFIX, AutoTagRule, TagsHead
from kefu.storage.tx import condition_failed, write_transaction
from kefu.tags.catalog import require_tags
from kefu.tags.rules import (
    BACKFILL_KINDS,
    MAX_RULES,
    AutoTagRuleEdit,
    NewAutoTagRule,
    RuleSet,
    matches_messages,
    trigger_doc,
)

RULE_ID = re.compile(r"^atr_\d{13}[0-9a-f]{10}$")
_audit = StaffChanges("tag_rule")
_compiled: VersionedCache[RuleSet] = VersionedCache()
# The head's revision, re-read at most every REVISION_TTL_S per shop and instance: at a mall's
# peak (2,000 messages a second) the tagging function would otherwise read one item that often.
# A rule change reaches the tagging function within that time.
REVISION_TTL_S = 1.0
_revisions: dict[str, tuple[float, int]] = {}


def _forget() -> None:
    _compiled.clear()
    _revisions.clear()


caches.register("kefu.tags.rules_admin", _forget)


def _not_found(rule_id: str) -> NotFound:
    return NotFound(f"no auto-tag rule {rule_id!r}", code="rule_not_found")


def _get(shop_id: str, rule_id: str) -> AutoTagRule:
    if not RULE_ID.match(rule_id):
        raise _not_found(rule_id)
    missing = _not_found(rule_id)
    return AutoTagRule.get_or_404(
        shop_id,
        AutoTagRule.key(rule_id),
        message=missing.message,
        code=missing.code,
        consistent_read=True,
    )


def _all(shop_id: str) -> list[AutoTagRule]:
    return list(AutoTagRule.query(shop_id, AutoTagRule.sk.startswith(RULE_PREFIX)))


def revision(shop_id: str) -> int:
    try:
        return int(TagsHead.get(shop_id, TagsHead.key()).rules_revision or 0)
    except TagsHead.DoesNotExist:
        return 0


def cached_revision(shop_id: str) -> int:
    now = time.monotonic()
    hit = _revisions.get(shop_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    current = revision(shop_id)
    if len(_revisions) > 256:
        _revisions.clear()
    _revisions[shop_id] = (now + REVISION_TTL_S, current)
    return current


def rule_set(shop_id: str) -> RuleSet:
    """The shop's enabled rules compiled: the head's revision (one GetItem, at most every
    REVISION_TTL_S), and the rules' Query only when the revision changed since this instance
    compiled them."""
    return _compiled.get(
        shop_id,
        cached_revision(shop_id),
        lambda: RuleSet.build(
            (r.rule_id, r.trigger, [str(t) for t in r.tag_ids]) for r in _all(shop_id) if r.enabled
        ),
    )


def _head(shop_id: str) -> tuple[int, int]:
    """The head's (rules_revision, rule_count), read before anything the change depends on."""
    try:
        head = TagsHead.get(shop_id, TagsHead.key(), consistent_read=True)
    except TagsHead.DoesNotExist:
        return 0, 0
    return int(head.rules_revision or 0), int(head.rule_count or 0)


def _on_messages(shop_id: str, rule_id: str, after: dict[str, Any] | None) -> bool:
    """Whether, after this change (`after`: the rule's definition, None when it is deleted), an
    enabled rule of the shop matches messages: no read when this rule does; else the other rules
    (one consistent Query, stopping at the first that does)."""
    if after is not None and matches_messages(after):
        return True
    others = AutoTagRule.query(
        shop_id, AutoTagRule.sk.startswith(RULE_PREFIX), consistent_read=True
    )
    return any(matches_messages(r.definition()) for r in others if r.rule_id != rule_id)


def _bump(
    tx: TransactWrite, shop_id: str, read_revision: int, on_messages: bool, count: int = 0
) -> None:
    """The head's revision + 1 and count, conditional on the revision the change was computed
    from (the update after the rule's own, if any); then the profile's mirror."""
    actions: list[Action] = [TagsHead.rules_revision.add(1)]
    if count:
        actions.append(TagsHead.rule_count.add(count))
    unchanged = TagsHead.rules_revision == read_revision
    if not read_revision:
        unchanged = TagsHead.rules_revision.does_not_exist() | unchanged
    tx.update(TagsHead(shop_id, TagsHead.key()), actions, condition=unchanged)
    tx.update(
        ShopProfile(shop_id, PROFILE),
        [ShopProfile.message_tag_rules.set(on_messages)],
        condition=ShopProfile.shop_id.exists(),
    )


def _stale() -> Conflict:
    return Conflict(
        "the shop's auto-tag rules changed meanwhile: reload them and try again", code="stale"
    )


def _changed() -> None:
    """After a committed change: intake in this instance's process (as locally) sees the
    profile's new `message_tag_rules` at once; other instances within the profile cache's
    minute (docs/tags.md), as for `bot_enabled`."""
    from kefu.shops import clear_cache as clear_shops

    clear_shops()


def _check_backfill(definition: dict[str, Any]) -> None:
    if definition["trigger"]["kind"] not in BACKFILL_KINDS:
        raise BadRequest(
            f"a {definition['trigger']['kind']} rule cannot be back-filled (kefu keeps no "
            f"history to match it on); back-fill works for {', '.join(BACKFILL_KINDS)}",
            code="backfill_unsupported",
        )


def _backfill(actor: StaffActor, rule_id: str) -> dict:
    job = jobs.submit(
        actor.shop_id,
        "rule_backfill",
        {"rule_id": rule_id},
        actor,
        selection=jobs.Selection(all=True),
    )
    return job.to_public(now_ms())


def list_rules(actor: StaffActor) -> dict:
    p.require(actor, p.TAGS_READ)
    rules = sorted(_all(actor.shop_id), key=lambda r: r.created_at)
    return {"rules": [r.to_public() for r in rules], "revision": revision(actor.shop_id)}


def get_rule(actor: StaffActor, rule_id: str) -> dict:
    p.require(actor, p.TAGS_READ)
    return _get(actor.shop_id, rule_id).to_public()


def _check_tiers(shop_id: str, trigger: dict[str, Any]) -> None:
    """A tier-change rule names tier ids the shop has (400 `unknown_tier`, as routing rules)."""
    if trigger.get("kind") == "tier_changed":
        from kefu.tiers.settings import check_tier_ids

        check_tier_ids(shop_id, list(trigger.get("tiers") or []), where="the rule's trigger")


def create_rule(actor: StaffActor, req: NewAutoTagRule) -> dict:
    p.require(actor, p.TAGS_MANAGE)
    require_tags(actor.shop_id, req.tag_ids)
    definition: dict[str, Any] = {
        "name": req.name.strip(),
        "trigger": trigger_doc(req.trigger),
        "tag_ids": list(dict.fromkeys(req.tag_ids)),
        "enabled": req.enabled,
    }
    _check_tiers(actor.shop_id, definition["trigger"])
    if req.backfill:
        _check_backfill(definition)
    revision_read, rules = _head(actor.shop_id)
    if rules >= MAX_RULES:
        raise BadRequest(f"a shop may have at most {MAX_RULES} auto-tag rules", code="rule_limit")
    at = now_ms()
    rule_id = new_id("atr", at)
    on_messages = _on_messages(actor.shop_id, rule_id, definition)
    rule = AutoTagRule(
        actor.shop_id,
        AutoTagRule.key(rule_id),
        rule_id=rule_id,
        **definition,
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
    )
    try:
        with write_transaction() as tx:
            tx.save(rule, condition=AutoTagRule.sk.does_not_exist())
            tx.save(_audit(actor, "tag_rule.created", rule_id, None, definition, at))
            _bump(tx, actor.shop_id, revision_read, on_messages, 1)
    except TransactWriteError as exc:
        # The head's revision moved since it was read (which is also how a concurrent creation
        # reaching the limit shows): the rules this change was computed from are not current.
        if condition_failed(exc, tx.update_index(0)):
            raise _stale() from None
        raise
    _changed()
    out = rule.to_public()
    if req.backfill:
        out["backfill_job"] = _backfill(actor, rule_id)
    return out


def update_rule(actor: StaffActor, rule_id: str, change: AutoTagRuleEdit) -> dict:
    p.require(actor, p.TAGS_MANAGE)
    rule = _get(actor.shop_id, rule_id)
    fields = {k: v for k, v in msgspec.to_builtins(change).items() if k != "backfill"}
    before = rule.definition()
    after = {**before, **fields}
    if change.tag_ids is not None:
        require_tags(actor.shop_id, change.tag_ids)
        after["tag_ids"] = list(dict.fromkeys(change.tag_ids))
    if "trigger" in fields:
        _check_tiers(actor.shop_id, after["trigger"])
    if change.backfill:
        _check_backfill(after)
    if fields:
        revision_read, _ = _head(actor.shop_id)
        on_messages = _on_messages(actor.shop_id, rule_id, after)
        at = now_ms()
        actions = [getattr(AutoTagRule, k).set(after[k]) for k in fields]
        actions += [AutoTagRule.updated_at.set(at), AutoTagRule.updated_by.set(actor.username)]
        try:
            with write_transaction() as tx:
                tx.save(_audit(actor, "tag_rule.updated", rule_id, before, after, at))
                tx.update(rule, actions, condition=AutoTagRule.updated_at == rule.updated_at)
                _bump(tx, actor.shop_id, revision_read, on_messages)
        except TransactWriteError as exc:
            if condition_failed(exc, tx.update_index(0)):
                raise Conflict("the rule changed meanwhile: reload it", code="stale") from None
            if condition_failed(exc, tx.update_index(1)):
                raise _stale() from None
            raise
        _changed()
    out = _get(actor.shop_id, rule_id).to_public()
    if change.backfill:
        out["backfill_job"] = _backfill(actor, rule_id)
    return out


def delete_rule(actor: StaffActor, rule_id: str) -> None:
    p.require(actor, p.TAGS_MANAGE)
    rule = _get(actor.shop_id, rule_id)
    revision_read, _ = _head(actor.shop_id)
    on_messages = _on_messages(actor.shop_id, rule_id, None)
    at = now_ms()
    try:
        with write_transaction() as tx:
            tx.delete(rule)
            tx.save(_audit(actor, "tag_rule.deleted", rule_id, rule.definition(), None, at))
            _bump(tx, actor.shop_id, revision_read, on_messages, -1)
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            raise _stale() from None
        raise
    _changed()
