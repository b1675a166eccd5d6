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

This module is what a rule is (limits, request bodies, validation); the matcher is
kefu.bot.keyword_rules_matcher, the editing service kefu.bot.keyword_rules_admin.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec

from kefu.bot.templates import BOT_VARIABLES, check_variables
from kefu.errors import BadRequest

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


def re2_options() -> Any:
    import re2  # deferred: only the bot layer's functions carry google-re2

    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False
    return options


def alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


_UNSUPPORTED = re.compile(r"\\[1-9]|\(\?<?[=!]")


def _compile_patterns(patterns: list[str]) -> list[Any]:
    """Each pattern compiled with RE2, then the rule's alternation (what the matcher runs);
    400 `invalid_regex` naming the pattern and RE2's reason."""
    import re2

    options = re2_options()
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
        re2.compile(alternation(patterns), options)
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
