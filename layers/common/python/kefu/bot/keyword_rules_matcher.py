"""Keyword rules matched (docs/keyword-rules.md): the shop's rules compiled into one
Aho-Corasick automaton plus RE2 patterns, cached per rules-head revision; the bot turn's hit
counter. What a rule is: kefu.bot.keyword_rules."""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.transactions import TransactWrite

from kefu import caches
from kefu.bot.keyword_rules import MAX_MATCH_CHARS, alternation, normalise, re2_options
from kefu.matching import KeywordAutomaton, VersionedCache, in_weekly_window, minutes
from kefu.storage.keyword_rules import RULE_PREFIX, KeywordRule

log = logging.getLogger("kefu.bot.keyword_rules")


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

        options = re2_options()
        try:
            combined = re2.compile(alternation(patterns), options)
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


caches.register("kefu.bot.keyword_rules_matcher", clear_cache)
