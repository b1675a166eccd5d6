"""Keyword rules edited (docs/keyword-rules.md): list, read, create, change, delete (owner,
supervisor; agents read), each change with its audit record and the rules head's revision + 1
in one transaction; and trying the rules (or a draft) on a message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.bot.keyword_rules import (
    MAX_REGEX_RULES,
    MAX_RULES,
    RULE_ID,
    KeywordRuleChange,
    KeywordRuleTest,
    NewKeywordRule,
    check_rule,
)
from kefu.bot.keyword_rules_matcher import RuleMatcher, load_calendar, matcher_for
from kefu.bot.templates import render_replies
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.pagination import decode_cursor, take_page
from kefu.storage.keyword_rules import RULE_PREFIX, KeywordRule, KeywordRulesHead
from kefu.storage.tx import condition_failed, write_transaction


def _head(shop_id: str) -> KeywordRulesHead | None:
    try:
        return KeywordRulesHead.get(shop_id, KeywordRulesHead.key(), consistent_read=True)
    except KeywordRulesHead.DoesNotExist:
        return None


def revision(shop_id: str) -> int:
    head = _head(shop_id)
    return int(head.revision or 0) if head else 0


def _not_found(rule_id: str) -> NotFound:
    return NotFound(f"no keyword rule {rule_id!r}", code="rule_not_found")


def _get(shop_id: str, rule_id: str) -> KeywordRule:
    if not RULE_ID.fullmatch(rule_id):
        raise _not_found(rule_id)
    try:
        rule = KeywordRule.get(shop_id, KeywordRule.key(rule_id), consistent_read=True)
    except KeywordRule.DoesNotExist:
        raise _not_found(rule_id) from None
    if not rule.is_rule:
        raise _not_found(rule_id)
    return rule


def _bump(tx: TransactWrite, actor: StaffActor, at: int, *, count: int = 0, regex: int = 0) -> None:
    """The head's revision + 1 (and the counts), in the change's transaction. Adding a rule
    (or a regex rule) is conditional on the shop's limit."""
    actions = [
        KeywordRulesHead.revision.add(1),
        KeywordRulesHead.updated_at.set(at),
        KeywordRulesHead.updated_by.set(actor.username),
    ]
    condition = None
    if count:
        actions.append(KeywordRulesHead.rule_count.add(count))
        if count > 0:
            condition = KeywordRulesHead.rule_count.does_not_exist() | (
                KeywordRulesHead.rule_count < MAX_RULES
            )
    if regex:
        actions.append(KeywordRulesHead.regex_rule_count.add(regex))
        if regex > 0:
            regex_ok = KeywordRulesHead.regex_rule_count.does_not_exist() | (
                KeywordRulesHead.regex_rule_count < MAX_REGEX_RULES
            )
            condition = regex_ok if condition is None else condition & regex_ok
    tx.update(KeywordRulesHead(actor.shop_id, KeywordRulesHead.key()), actions, condition=condition)


def _limit_error(regex: bool) -> BadRequest:
    if regex:
        return BadRequest(
            f"a shop may have at most {MAX_REGEX_RULES} regex rules (each is checked on every "
            "message); use exact or contains keywords, or merge patterns into one rule",
            code="rule_limit",
        )
    return BadRequest(f"a shop may have at most {MAX_RULES} keyword rules", code="rule_limit")


def _audit(actor: StaffActor, action: str, rule_id: str, before: Any, after: Any, at: int):  # noqa: ANN202
    return staff_change(
        actor,
        action=action,
        target_type="keyword_rule",
        target_id=rule_id,
        before=before,
        after=after,
        at_ms=at,
    )


def list_rules(actor: StaffActor, *, limit: int = 50, cursor: str | None = None) -> dict:
    """A page of the shop's rules, oldest first, with their hits; and the current revision."""
    p.require(actor, p.KEYWORD_RULES_READ)
    results = KeywordRule.query(
        actor.shop_id,
        KeywordRule.sk.startswith(RULE_PREFIX),
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=actor.shop_id),
    )
    items, next_cursor = take_page(results, limit)
    return {
        "rules": [r.to_public() for r in items if r.is_rule],
        "revision": revision(actor.shop_id),
        "next_cursor": next_cursor,
    }


def get_rule(actor: StaffActor, rule_id: str) -> dict:
    p.require(actor, p.KEYWORD_RULES_READ)
    return _get(actor.shop_id, rule_id).to_public()


def create_rule(actor: StaffActor, req: NewKeywordRule) -> dict:
    p.require(actor, p.KEYWORD_RULES_MANAGE)
    definition = check_rule(req)
    at = now_ms()
    rule_id = new_id("kwr", at)
    item = KeywordRule(
        actor.shop_id,
        KeywordRule.key(rule_id),
        rule_id=rule_id,
        **definition,
        hits=0,
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
    )
    regex = definition["match_mode"] == "regex"
    try:
        with write_transaction() as tx:
            tx.save(item, condition=KeywordRule.sk.does_not_exist())
            tx.save(_audit(actor, "keyword_rule.created", rule_id, None, definition, at))
            _bump(tx, actor, at, count=1, regex=1 if regex else 0)
    except TransactWriteError as exc:
        if condition_failed(exc, 2):  # puts (rule, audit), then the head's update
            raise _limit_error(regex) from None
        raise
    return item.to_public()


def update_rule(actor: StaffActor, rule_id: str, change: KeywordRuleChange) -> dict:
    p.require(actor, p.KEYWORD_RULES_MANAGE)
    fields = msgspec.to_builtins(change)
    rule = _get(actor.shop_id, rule_id)
    if not fields:
        return rule.to_public()  # {} changes nothing (as a merge patch): no write, no audit
    before = rule.definition()
    merged = {**before, **fields}
    try:
        candidate = msgspec.convert(merged, NewKeywordRule)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"invalid rule: {exc}", code="validation_error") from None
    after = check_rule(candidate)
    at = now_ms()
    actions = [getattr(KeywordRule, name).set(value) for name, value in after.items()]
    actions += [KeywordRule.updated_at.set(at), KeywordRule.updated_by.set(actor.username)]
    regex_delta = (after["match_mode"] == "regex") - (before["match_mode"] == "regex")
    try:
        with write_transaction() as tx:
            tx.save(_audit(actor, "keyword_rule.updated", rule_id, before, after, at))
            # Optimistic: the rule must still be the one this change was merged into.
            tx.update(rule, actions, condition=KeywordRule.updated_at == rule.updated_at)
            _bump(tx, actor, at, regex=regex_delta)
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            raise Conflict(
                "the rule changed meanwhile: reload it and try again", code="stale"
            ) from None
        if condition_failed(exc, 2):
            raise _limit_error(True) from None
        raise
    return _get(actor.shop_id, rule_id).to_public()


def delete_rule(actor: StaffActor, rule_id: str) -> None:
    p.require(actor, p.KEYWORD_RULES_MANAGE)
    rule = _get(actor.shop_id, rule_id)
    at = now_ms()
    regex = rule.match_mode == "regex"
    try:
        with write_transaction() as tx:
            tx.delete(rule, condition=KeywordRule.rule_id.exists())
            tx.save(_audit(actor, "keyword_rule.deleted", rule_id, rule.definition(), None, at))
            _bump(tx, actor, at, count=-1, regex=-1 if regex else 0)
    except TransactWriteError as exc:
        if condition_failed(exc, 0):  # deleted meanwhile
            raise _not_found(rule_id) from None
        raise


def try_rules(actor: StaffActor, req: KeywordRuleTest) -> dict:
    """Which rule would answer this message, and the replies it would send — with the saved
    rules, or with a draft rule added (or standing in for a saved one) before it is saved."""
    p.require(actor, p.KEYWORD_RULES_READ)
    at = req.at if req.at is not None else now_ms()
    current = revision(actor.shop_id)
    matcher = matcher_for(actor.shop_id, current)
    if req.replaces is not None and req.rule is None:
        raise BadRequest("replaces needs the draft rule to try instead", code="validation_error")
    if req.rule is not None:
        definition = check_rule(req.rule)
        rules = matcher.rules
        if req.replaces is not None:
            if not any(r.rule_id == req.replaces for r in rules):
                raise _not_found(req.replaces)
            rules = [r for r in rules if r.rule_id != req.replaces]
        draft = KeywordRule(
            actor.shop_id,
            KeywordRule.key("draft"),
            rule_id=req.replaces or "draft",
            **definition,
            hits=0,
        )
        matcher = RuleMatcher([*rules, draft])
    calendar = load_calendar(actor.shop_id) if matcher.needs_calendar else None
    found = matcher.explain(req.text, req.channel, at, calendar)
    variables: Mapping[str, str] = req.variables or {}
    return {
        "matched": found is not None,
        "rule": found.rule.to_public() if found else None,
        "draft": bool(found and found.rule.sk == KeywordRule.key("draft")),
        "keyword": found.keyword if found else None,
        "match_mode": found.mode if found else None,
        "replies": render_replies(found.rule.replies, variables) if found else [],
        "revision": current,
        "at": at,
    }
