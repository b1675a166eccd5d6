"""Keyword auto-reply rules (关键词自动回复): a shop's rules that answer a customer's message
with fixed replies when it equals, contains or matches what the rule names. docs/keyword-rules.md.

Editing (owner, supervisor; agents read): every change writes the rule, its audit record and the
rules head's `revision` + 1 in one transaction, so the bot turn — which reads the head in its one
BatchGetItem — knows whether the matcher it has cached is current.

Matching (`matcher_for(shop, revision).match(text, channel, at_ms, calendar)`):
- exact and contains keywords of ALL the shop's rules are in ONE Aho-Corasick automaton
  (kefu.matching.KeywordAutomaton): contains = one pass over the message, exact = one trie
  lookup of the whole message; the cost does not grow with the number of rules;
- regex rules (few: at most MAX_REGEX_RULES a shop) are RE2 patterns (google-re2): linear time
  whatever the pattern, so a shop cannot write a catastrophically backtracking one;
- of the rules that match, the enabled ones for this channel and active at that moment are
  ranked by priority, then the longest keyword (or match), then rule id; the first wins.

Texts are normalised before matching keywords: NFKC (full-width -> half-width), casefold,
whitespace runs collapsed, trailing punctuation and whitespace dropped; keywords likewise. Regex
patterns see the NFKC text (case-sensitive unless the pattern says `(?i)`). At most the first
MAX_MATCH_CHARS characters of a message are matched.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.bot.templates import BOT_VARIABLES, check_variables, render_replies
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.matching import KeywordAutomaton, VersionedCache, in_weekly_window, minutes
from kefu.pagination import decode_cursor, take_page
from kefu.storage.keyword_rules import RULE_PREFIX, KeywordRule, KeywordRulesHead
from kefu.storage.tx import condition_failed, write_transaction

log = logging.getLogger("kefu.bot.keyword_rules")

MAX_RULES = 10_000  # per shop
MAX_REGEX_RULES = 50  # per shop: regex rules are checked one by one (each in linear time)
MAX_KEYWORDS = 50  # per rule
MAX_KEYWORD_CHARS = 50  # an exact / contains keyword
MAX_PATTERN_CHARS = 200  # a regex pattern
MAX_MATCH_CHARS = 2_000  # of a message, matched
RE2_MAX_MEM = 2 << 20  # bytes per rule's compiled patterns: a huge program is refused at save
CHANNELS = ("wechat_miniprogram", "app", "h5")
MODES = ("exact", "contains", "regex")
WHENS = ("always", "business_hours", "off_hours", "windows")
RULE_ID = re.compile(r"kwr_\d{13}[0-9a-f]{10}")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
KeywordText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATTERN_CHARS)]
Channel = Literal["wechat_miniprogram", "app", "h5"]
TimeOfDay = Annotated[str, msgspec.Meta(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
Weekday = Annotated[int, msgspec.Meta(ge=1, le=7)]  # ISO: Monday 1 ... Sunday 7
Priority = Annotated[int, msgspec.Meta(ge=0, le=1000)]
RuleIdText = Annotated[str, msgspec.Meta(pattern=r"^kwr_\d{13}[0-9a-f]{10}$")]
MediaId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class KeywordRuleWindow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    days: Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7)]
    start: TimeOfDay  # "22:00" with end "06:00" runs past midnight
    end: TimeOfDay


class KeywordRuleActive(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # business_hours / off_hours: the shop's business-hours calendar (the tickets' SLA one).
    when: Literal["always", "business_hours", "off_hours", "windows"] = "always"
    windows: Annotated[list[KeywordRuleWindow], msgspec.Meta(max_length=20)] | None = None
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "Asia/Shanghai"


class _Reply(
    msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    pass


class BotTextReply(_Reply, tag="text"):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]  # may use {variables}


class BotImageReply(_Reply, tag="image"):
    # One of the two: a WeChat media id, or an https URL of the picture.
    media_id: MediaId | None = None
    url: Annotated[str, msgspec.Meta(pattern=r"^https://", max_length=2048)] | None = None


class BotMiniProgramPageReply(_Reply, tag="miniprogrampage"):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    pagepath: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    thumb_media_id: MediaId


BotReply = BotTextReply | BotImageReply | BotMiniProgramPageReply


class NewKeywordRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    match_mode: Literal["exact", "contains", "regex"] = "contains"
    # exact / contains: keywords; regex: RE2 patterns.
    keywords: Annotated[list[KeywordText], msgspec.Meta(min_length=1, max_length=MAX_KEYWORDS)]
    priority: Priority = 0  # higher wins
    channels: Annotated[list[Channel], msgspec.Meta(max_length=3)] = msgspec.field(
        default_factory=list
    )  # empty: every channel
    active: KeywordRuleActive = msgspec.field(default_factory=KeywordRuleActive)
    replies: Annotated[list[BotReply], msgspec.Meta(min_length=1, max_length=5)]
    enabled: bool = True


class KeywordRuleChange(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    name: Name | None = None
    match_mode: Literal["exact", "contains", "regex"] | None = None
    keywords: (
        Annotated[list[KeywordText], msgspec.Meta(min_length=1, max_length=MAX_KEYWORDS)] | None
    ) = None
    priority: Priority | None = None
    channels: Annotated[list[Channel], msgspec.Meta(max_length=3)] | None = None
    active: KeywordRuleActive | None = None
    replies: Annotated[list[BotReply], msgspec.Meta(min_length=1, max_length=5)] | None = None
    enabled: bool | None = None


class KeywordRuleTest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MATCH_CHARS)]
    channel: Channel = "wechat_miniprogram"
    at: Annotated[int, msgspec.Meta(ge=0)] | None = None  # epoch ms; default now
    # Values to render the replies with (what the bot would fill from the conversation).
    variables: dict[str, Annotated[str, msgspec.Meta(max_length=200)]] | None = None
    # A rule not saved yet, tried together with the saved ones; `replaces`: the saved rule it
    # stands in for (trying an edit before saving it).
    rule: NewKeywordRule | None = None
    replaces: RuleIdText | None = None


# ------------------------------------------------------------------------------ validation


def normalise(text: str) -> str:
    """What exact and contains keywords are compared on (messages and keywords alike)."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    end = len(folded)
    while end and (
        unicodedata.category(folded[end - 1]).startswith("P") or folded[end - 1] in "~ "
    ):
        end -= 1
    return folded[:end]


def _re2_options() -> Any:
    import re2  # deferred: only the bot layer's functions carry google-re2

    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False
    return options


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


_UNSUPPORTED = re.compile(r"\\[1-9]|\(\?<?[=!]")


def _compile_patterns(patterns: list[str]) -> list[Any]:
    """Each pattern compiled with RE2, then the rule's alternation (what the matcher runs);
    400 `invalid_regex` naming the pattern and RE2's reason."""
    import re2

    options = _re2_options()
    compiled = []
    for i, pattern in enumerate(patterns, 1):
        if len(pattern) > MAX_PATTERN_CHARS:
            raise BadRequest(
                f"pattern {i} is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}",
                code="pattern_too_long",
            )
        try:
            regex = re2.compile(pattern, options)
        except re2.error as exc:
            reason = exc.args[0].decode() if isinstance(exc.args[0], bytes) else str(exc)
            hint = ""
            if _UNSUPPORTED.search(pattern):
                hint = (
                    " (backreferences and lookaround are not supported: patterns are RE2, "
                    "which matches in linear time)"
                )
            raise BadRequest(
                f"pattern {i} {pattern!r} is not a valid RE2 pattern: {reason}{hint}",
                code="invalid_regex",
            ) from None
        if regex.search("") is not None:
            raise BadRequest(
                f"pattern {i} {pattern!r} matches the empty string, so every message: "
                "make it require at least one character",
                code="invalid_regex",
            )
        compiled.append(regex)
    try:
        re2.compile(_alternation(patterns), options)
    except re2.error:
        raise BadRequest(
            "the rule's patterns together are too large for RE2: use fewer or simpler patterns",
            code="invalid_regex",
        ) from None
    return compiled


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"unknown timezone {name!r}", code="invalid_timezone") from None


def _check_active(active: KeywordRuleActive) -> dict:
    _zone(active.timezone)
    if active.when == "windows":
        if not active.windows:
            raise BadRequest(
                'active.when "windows" needs at least one window', code="invalid_active"
            )
        for i, w in enumerate(active.windows, 1):
            if w.start == w.end:
                raise BadRequest(
                    f"active window {i} starts and ends at {w.start}: give a range "
                    '("00:00"-"24:00" for all day)',
                    code="invalid_active",
                )
            if w.start == "24:00":
                raise BadRequest(f"active window {i} cannot start at 24:00", code="invalid_active")
    elif active.windows:
        raise BadRequest(
            f'active.windows apply only with when "windows", not {active.when!r}',
            code="invalid_active",
        )
    out: dict[str, Any] = {"when": active.when, "timezone": active.timezone}
    if active.when == "windows":
        out["windows"] = [
            {"days": sorted(set(w.days)), "start": w.start, "end": w.end} for w in active.windows
        ]
    return out


def _check_replies(replies: list[BotReply]) -> list[dict]:
    out = []
    for i, reply in enumerate(replies, 1):
        if isinstance(reply, BotTextReply):
            check_variables(reply.content, BOT_VARIABLES)
            if not reply.content.strip():
                raise BadRequest(f"reply {i}: the text is blank", code="invalid_reply")
        elif isinstance(reply, BotImageReply):
            if (reply.media_id is None) == (reply.url is None):
                raise BadRequest(
                    f"reply {i}: an image needs exactly one of media_id and url",
                    code="invalid_reply",
                )
        else:
            check_variables(reply.title, BOT_VARIABLES)
        out.append(msgspec.to_builtins(reply))
    return out


def check_rule(rule: NewKeywordRule) -> dict:
    """What the types cannot say; returns the rule's stored definition (KeywordRule.definition
    shape). 400 with the offending keyword, pattern, window or reply named."""
    keywords: list[str] = []
    if rule.match_mode == "regex":
        keywords = list(dict.fromkeys(rule.keywords))
        _compile_patterns(keywords)
    else:
        seen: set[str] = set()
        for i, keyword in enumerate(rule.keywords, 1):
            keyword = keyword.strip()
            if len(keyword) > MAX_KEYWORD_CHARS:
                raise BadRequest(
                    f"keyword {i} is {len(keyword)} characters; the limit is "
                    f"{MAX_KEYWORD_CHARS} (longer texts: use match_mode regex)",
                    code="keyword_too_long",
                )
            key = normalise(keyword)
            if not key:
                raise BadRequest(
                    f"keyword {i} {keyword!r} is only whitespace or punctuation",
                    code="empty_keyword",
                )
            if key not in seen:
                seen.add(key)
                keywords.append(keyword)
    if not rule.name.strip():
        raise BadRequest("name is blank", code="validation_error")
    return {
        "name": rule.name.strip(),
        "match_mode": rule.match_mode,
        "keywords": keywords,
        "priority": rule.priority,
        "channels": [c for c in CHANNELS if c in set(rule.channels)],
        "active": _check_active(rule.active),
        "replies": _check_replies(rule.replies),
        "enabled": rule.enabled,
    }


# ------------------------------------------------------------------------------ matching


@dataclass(frozen=True)
class Match:
    rule: KeywordRule
    keyword: str  # the keyword or pattern that matched, as the shop wrote it
    mode: str  # exact | contains | regex


@dataclass
class _Compiled:
    rule: KeywordRule
    rule_id: str
    priority: int
    enabled: bool
    channels: frozenset[str] | None
    when: str
    zone: dt.tzinfo | None
    windows: tuple[tuple[frozenset[int], int, int], ...]

    def active_at(self, at_ms: int, is_open: Any) -> bool:
        if self.when == "always":
            return True
        if self.when == "business_hours":
            return is_open()
        if self.when == "off_hours":
            return not is_open()
        local = dt.datetime.fromtimestamp(at_ms / 1000, tz=self.zone)
        return any(in_weekly_window(local, days, s, e) for days, s, e in self.windows)


def _compile_rule(rule: KeywordRule) -> _Compiled:
    active = rule.active or {}
    when = active.get("when") or "always"
    zone = None
    windows: tuple = ()
    if when == "windows":
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(active.get("timezone") or "Asia/Shanghai")
        windows = tuple(
            (frozenset(w["days"]), minutes(w["start"]), minutes(w["end"]))
            for w in active.get("windows") or ()
        )
    return _Compiled(
        rule=rule,
        rule_id=rule.rule_id or "",
        priority=int(rule.priority or 0),
        enabled=bool(rule.enabled),
        channels=frozenset(rule.channels) if rule.channels else None,
        when=when,
        zone=zone,
        windows=windows,
    )


class RuleMatcher:
    """A shop's rules, compiled to answer messages. Build once per rules revision."""

    def __init__(self, rules: Iterable[KeywordRule]) -> None:
        self.rules: list[KeywordRule] = [r for r in rules if r.is_rule]
        self._compiled: list[_Compiled] = []
        # normalised keyword -> [exact (rule index, as written)], [contains (...)]
        entries: dict[str, tuple[list, list]] = {}
        self._regexes: list[tuple[int, Any, list[tuple[str, Any]]]] = []
        for rule in self.rules:
            try:
                compiled = _compile_rule(rule)
            except Exception:  # a damaged item must not stop the shop's other rules
                log.warning("skipping keyword rule %s: cannot compile", rule.rule_id)
                continue
            index = len(self._compiled)
            self._compiled.append(compiled)
            if not compiled.enabled:
                continue
            if rule.match_mode == "regex":
                self._add_regex(index, list(rule.keywords or []))
                continue
            slot = 0 if rule.match_mode == "exact" else 1
            for keyword in rule.keywords or ():
                key = normalise(keyword)
                if key:
                    entries.setdefault(key, ([], []))[slot].append((index, keyword))
        self._automaton = KeywordAutomaton(
            {k: (len(k), tuple(ex), tuple(co)) for k, (ex, co) in entries.items()}
        )
        self.needs_calendar = any(
            c.enabled and c.when in ("business_hours", "off_hours") for c in self._compiled
        )

    def _add_regex(self, index: int, patterns: list[str]) -> None:
        import re2

        options = _re2_options()
        try:
            combined = re2.compile(_alternation(patterns), options)
            each = [(pattern, re2.compile(pattern, options)) for pattern in patterns]
        except re2.error:
            log.warning("skipping keyword rule %s: invalid pattern", self.rules[index].rule_id)
            return
        self._regexes.append((index, combined, each))

    def __len__(self) -> int:
        return len(self._compiled)

    def candidates(self, text: str) -> dict[int, tuple[int, str, str]]:
        """Rule index -> (length of its longest match, keyword or pattern, mode), for every
        enabled rule whose keywords or patterns match, whatever its channel or hours."""
        text = text[:MAX_MATCH_CHARS]
        found: dict[int, tuple[int, str, str]] = {}
        automaton = self._automaton
        if automaton:
            key = normalise(text)
            whole = automaton.get(key)
            if whole is not None:
                for index, keyword in whole[1]:
                    found[index] = (whole[0], keyword, "exact")
            for _end, (length, _exact, contains) in automaton.iter(key):
                for index, keyword in contains:
                    best = found.get(index)
                    if best is None or length > best[0]:
                        found[index] = (length, keyword, "contains")
        if self._regexes:
            nfkc = unicodedata.normalize("NFKC", text)
            for index, combined, each in self._regexes:
                if combined.search(nfkc) is None:
                    continue
                for pattern, regex in each:  # which pattern, and how long its match
                    m = regex.search(nfkc)
                    if m is not None:
                        length = m.end() - m.start()
                        best = found.get(index)
                        if best is None or length > best[0]:
                            found[index] = (length, pattern, "regex")
        return found

    def explain(self, text: str, channel: str, at_ms: int, calendar: Any = None) -> Match | None:
        """The winning rule and what matched (see `match`)."""
        found = self.candidates(text)
        if not found:
            return None
        open_now: list[bool] = []

        def is_open() -> bool:
            # No calendar: business hours are always (so off_hours never).
            if calendar is None:
                return True
            if not open_now:
                from kefu.tickets.calendar import is_open_ms

                open_now.append(is_open_ms(at_ms, calendar))
            return open_now[0]

        ranked = sorted(
            found.items(),
            key=lambda item: (
                -self._compiled[item[0]].priority,
                -item[1][0],
                self._compiled[item[0]].rule_id,
            ),
        )
        for index, (_length, keyword, mode) in ranked:
            compiled = self._compiled[index]
            if compiled.channels is not None and channel not in compiled.channels:
                continue
            if compiled.active_at(at_ms, is_open):
                return Match(compiled.rule, keyword, mode)
        return None

    def match(
        self, text: str, channel: str, at_ms: int, calendar: Any = None
    ) -> KeywordRule | None:
        """The highest-priority enabled rule that matches the text, for this channel, active at
        this moment (ties: the longer keyword, then the lower rule id). `calendar`: the shop's
        kefu.tickets.calendar.BusinessCalendar, or None when it has none (business hours are
        then always)."""
        found = self.explain(text, channel, at_ms, calendar)
        return found.rule if found is not None else None


EMPTY = RuleMatcher(())
_CACHE: VersionedCache[RuleMatcher] = VersionedCache(64)


def load_rules(shop_id: str) -> list[KeywordRule]:
    """Every rule of the shop: one Query (paginated), strongly consistent so that it sees at
    least the revision the caller read."""
    items = KeywordRule.query(shop_id, KeywordRule.sk.startswith(RULE_PREFIX), consistent_read=True)
    return [r for r in items if r.is_rule]


def matcher_for(shop_id: str, revision: int) -> RuleMatcher:
    """The shop's compiled rules at this revision (the rules head's `revision`), from this
    instance's cache; loaded and compiled only when the revision changes. Revision 0: the shop
    has never had a rule (no read)."""
    if revision <= 0:
        return EMPTY
    return _CACHE.get(shop_id, int(revision), lambda: RuleMatcher(load_rules(shop_id)))


def clear_cache() -> None:
    _CACHE.clear()


def add_hit(tx: TransactWrite, shop_id: str, rule_id: str, at_ms: int) -> None:
    """Count a rule's answer inside the caller's transaction (the bot turn's). No condition, so
    a rule deleted meanwhile cannot fail the turn: the update then leaves a counters-only stub,
    which every reader ignores (KeywordRule.is_rule)."""
    tx.update(
        KeywordRule(shop_id, KeywordRule.key(rule_id)),
        actions=[KeywordRule.hits.add(1), KeywordRule.last_hit_at.set(at_ms)],
    )


def load_calendar(shop_id: str) -> Any:
    """The shop's stored business-hours calendar (WorkbenchTable CALENDAR#default, the one the
    tickets' SLA uses), or None when it has none. The bot turn reads that item in its own
    BatchGetItem and builds it with kefu.tickets.calendar.from_document instead."""
    from kefu.storage.workbench import SlaCalendar
    from kefu.tickets.calendar import from_document

    try:
        return from_document(SlaCalendar.get(shop_id, SlaCalendar.key()).calendar)
    except SlaCalendar.DoesNotExist:
        return None


# ------------------------------------------------------------------------------ editing


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
