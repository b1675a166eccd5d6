"""Routing rules: which queue a conversation goes to, and with what priority.

Rules are ordered; the first rule whose conditions all hold wins. The keyword conditions of all
rules are compiled into ONE Aho-Corasick automaton (pyahocorasick), so one pass over the message
finds every rule whose keywords occur, whatever the number of rules. Only those candidates and
the (few) rules without keywords are then checked for their other conditions, in rule order.
A compiled rule set is cached per (shop, version) in the Lambda instance.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from kefu import caches
from kefu.errors import BadRequest
from kefu.matching import KeywordAutomaton, VersionedCache, in_weekly_window, minutes
from kefu.storage.workbench import QueueId

MAX_RULES = 10_000
Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
HourRange = Annotated[
    str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
]
Weekday = Annotated[int, msgspec.Meta(ge=1, le=7)]  # ISO: Monday 1 ... Sunday 7


class BusinessHours(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    weekdays: list[Weekday] = msgspec.field(default_factory=lambda: [1, 2, 3, 4, 5])
    # "09:00-18:00"; a range that ends before it starts runs past midnight ("22:00-06:00").
    ranges: list[HourRange] = msgspec.field(default_factory=lambda: ["00:00-24:00"])
    # True: the rule holds OUTSIDE these hours (e.g. an after-hours queue).
    outside: bool = False


class RuleConditions(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    keywords: list[Keyword] | None = None  # any of them occurs in the message
    categories: list[Name] | None = None  # product category of the card, or of the last order
    tiers: list[Name] | None = None  # the customer's tier is one of these
    tags: list[Name] | None = None  # the customer has any of these tags
    channels: list[Name] | None = None  # wechat_miniprogram, app, h5
    hours: BusinessHours | None = None  # in the rule set's timezone
    seller_shops: list[Name] | None = None  # mall: the merchant of the card / order item


class RoutingRule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    rule_id: Name
    queue: QueueId
    name: str | None = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=9)] = 0
    enabled: bool = True
    conditions: RuleConditions = msgspec.field(default_factory=RuleConditions)


class RoutingRulesPut(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    rules: Annotated[list[RoutingRule], msgspec.Meta(max_length=MAX_RULES)]
    # The version the editor started from: a concurrent edit is a 409, not a silent overwrite.
    version: Annotated[int, msgspec.Meta(ge=0)] | None = None
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "Asia/Shanghai"


def encode_rules(rules: list[RoutingRule]) -> bytes:
    return zlib.compress(msgspec.json.encode(rules), 6)


def decode_rules(blob: bytes | None) -> list[RoutingRule]:
    if not blob:
        return []
    return msgspec.json.decode(zlib.decompress(blob), type=list[RoutingRule])


def check_rules(rules: list[RoutingRule], timezone: str) -> None:
    """What the types cannot say: unique ids, a valid timezone."""
    seen: set[str] = set()
    for rule in rules:
        if rule.rule_id in seen:
            raise BadRequest(f"rule_id {rule.rule_id!r} appears twice", code="duplicate_rule_id")
        seen.add(rule.rule_id)
    _zone(timezone)


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"unknown timezone {name!r}", code="invalid_timezone") from None


# ------------------------------------------------------------------------------ evaluation


@dataclass
class Facts:
    """What the rules look at, gathered once per decision."""

    text: str = ""
    channel: str | None = None
    tier: str | None = None
    tags: frozenset[str] = frozenset()
    categories: frozenset[str] | None = None  # None: not known from the message
    seller_shops: frozenset[str] | None = None
    at_ms: int = 0
    # Looked up only when a candidate rule needs a category/seller and the message had none:
    # returns (categories, seller shops) of the customer's latest order.
    latest_order: Callable[[], tuple[frozenset[str], frozenset[str]]] | None = None
    _order: tuple[frozenset[str], frozenset[str]] | None = field(default=None, repr=False)

    def order_facts(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._order is None:
            self._order = self.latest_order() if self.latest_order else (frozenset(), frozenset())
        return self._order

    def category_set(self) -> frozenset[str]:
        return self.categories if self.categories else self.order_facts()[0]

    def seller_set(self) -> frozenset[str]:
        return self.seller_shops if self.seller_shops else self.order_facts()[1]


@dataclass(frozen=True)
class Decision:
    queue: str | None  # None: no rule matched (the shop's default queue)
    priority: int = 0
    rule_id: str | None = None


class _Hours:
    def __init__(self, hours: BusinessHours, zone: dt.tzinfo) -> None:
        self.weekdays = frozenset(hours.weekdays)
        self.ranges = [tuple(minutes(x) for x in r.split("-")) for r in hours.ranges]
        self.outside = hours.outside
        self.zone = zone

    def holds(self, at_ms: int) -> bool:
        local = dt.datetime.fromtimestamp(at_ms / 1000, tz=self.zone)
        inside = any(
            in_weekly_window(local, self.weekdays, start, end) for start, end in self.ranges
        )
        return inside != self.outside


@dataclass
class _Compiled:
    rule: RoutingRule
    tiers: frozenset[str] | None
    tags: frozenset[str] | None
    channels: frozenset[str] | None
    categories: frozenset[str] | None
    sellers: frozenset[str] | None
    hours: _Hours | None

    def others_hold(self, facts: Facts) -> bool:
        """Every condition but the keywords (checked by the automaton)."""
        if self.channels is not None and facts.channel not in self.channels:
            return False
        if self.tiers is not None and facts.tier not in self.tiers:
            return False
        if self.tags is not None and not (self.tags & facts.tags):
            return False
        if self.hours is not None and not self.hours.holds(facts.at_ms):
            return False
        if self.categories is not None and not (self.categories & facts.category_set()):
            return False
        return self.sellers is None or bool(self.sellers & facts.seller_set())


def _lower_set(values: list[str] | None) -> frozenset[str] | None:
    return frozenset(v.lower() for v in values) if values is not None else None


class CompiledRules:
    """The rule set, ready to decide: one automaton over every keyword of every rule."""

    def __init__(self, rules: list[RoutingRule], timezone: str = "Asia/Shanghai") -> None:
        zone = _zone(timezone)
        self.rules: list[_Compiled] = []
        self.keywordless: list[int] = []  # indexes of enabled rules without a keyword condition
        index_of: dict[str, list[int]] = {}
        for i, rule in enumerate(rules):
            c = rule.conditions
            self.rules.append(
                _Compiled(
                    rule,
                    frozenset(c.tiers) if c.tiers is not None else None,
                    frozenset(c.tags) if c.tags is not None else None,
                    frozenset(c.channels) if c.channels is not None else None,
                    _lower_set(c.categories),
                    frozenset(c.seller_shops) if c.seller_shops is not None else None,
                    _Hours(c.hours, zone) if c.hours is not None else None,
                )
            )
            if not rule.enabled:
                continue
            if not c.keywords:
                self.keywordless.append(i)
                continue
            for kw in {k.lower() for k in c.keywords}:
                index_of.setdefault(kw, []).append(i)
        self.automaton = KeywordAutomaton({kw: tuple(ix) for kw, ix in index_of.items()})

    def keyword_candidates(self, text: str) -> set[int]:
        """Indexes of the rules with a keyword occurring in the text (case-insensitive)."""
        found: set[int] = set()
        for _end, indexes in self.automaton.iter(text.lower()):
            found.update(indexes)
        return found

    def decide(self, facts: Facts) -> Decision:
        candidates = self.keyword_candidates(facts.text)
        candidates.update(self.keywordless)
        for i in sorted(candidates):
            compiled = self.rules[i]
            if compiled.others_hold(facts):
                rule = compiled.rule
                return Decision(rule.queue, rule.priority, rule.rule_id)
        return Decision(None)


def naive_decide(
    rules: list[RoutingRule], facts: Facts, timezone: str = "Asia/Shanghai"
) -> Decision:
    """The specification the compiled matcher must agree with: every rule, in order, checked
    directly (used by the tests and the benchmark, never by routing)."""
    zone = _zone(timezone)
    text = facts.text.lower()
    for rule in rules:
        if not rule.enabled:
            continue
        c = rule.conditions
        if c.keywords and not any(k.lower() in text for k in c.keywords):
            continue
        compiled = _Compiled(
            rule,
            frozenset(c.tiers) if c.tiers is not None else None,
            frozenset(c.tags) if c.tags is not None else None,
            frozenset(c.channels) if c.channels is not None else None,
            _lower_set(c.categories),
            frozenset(c.seller_shops) if c.seller_shops is not None else None,
            _Hours(c.hours, zone) if c.hours is not None else None,
        )
        if compiled.others_hold(facts):
            return Decision(rule.queue, rule.priority, rule.rule_id)
    return Decision(None)


# A few shops' compiled rule sets per instance; a new version simply replaces the old entry.
_CACHE: VersionedCache[CompiledRules] = VersionedCache(64)


def cached(
    shop_id: str, version: int, load: Callable[[], tuple[list[RoutingRule], str]]
) -> CompiledRules:
    return _CACHE.get(shop_id, version, lambda: CompiledRules(*load()))


def clear_cache() -> None:
    _CACHE.clear()


caches.register("kefu.routing.rules", clear_cache)
