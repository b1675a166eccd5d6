"""Auto-tag rules (自动打标签, docs/tags.md): what a rule is, and the compiled set of a shop's rules
the tagging function matches events against.

A rule names a trigger and the tags it puts on the customer:
- keyword        a keyword in the customer's message (message.received): every keyword of every
                 rule of the shop is in ONE Aho-Corasick automaton (kefu.matching), so a message
                 costs one pass whatever the number of rules;
- intent         the bot recognised an intent (bot.replied's knowledge-base entry, or
                 handoff.requested's intent);
- order          a paid order (shop.order_paid) of a category and/or over an amount;
- order_count    N orders placed within M days (counted on shop.order_paid: one Query);
- refund         a refund requested or approved (shop.refund_requested / refund_approved);
- campaign_clicked  a campaign's link opened (campaign.clicked), one campaign or any;
- cart_abandoned  a cart change (shop.cart_item_added) followed by no order within N hours
                 (kefu.tags.cart: a watch item checked by the scheduled sweep);
- tier_changed   the customer's tier became one of these (customer.tier_changed);
- attribute      a custom attribute took one of these values (customer.updated).
Every other kind is looked up by event type in a dict: an event costs the rules of its kind,
evaluated in memory, and the same few requests whatever the number of rules.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import msgspec

from kefu.matching import KeywordAutomaton

MAX_RULES = 2_000  # per shop
MAX_KEYWORDS = 50  # per rule
MAX_MATCH_CHARS = 2_000  # of a message, matched

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Money = Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}(\.\d{1,2})?$")]  # yuan, "199.00"
TagIds = Annotated[list[Short], msgspec.Meta(min_length=1, max_length=10)]


class KeywordTrigger(msgspec.Struct, tag="keyword", tag_field="kind", forbid_unknown_fields=True):
    keywords: Annotated[list[Keyword], msgspec.Meta(min_length=1, max_length=MAX_KEYWORDS)]


class IntentTrigger(msgspec.Struct, tag="intent", tag_field="kind", forbid_unknown_fields=True):
    intents: Annotated[list[Short], msgspec.Meta(min_length=1, max_length=50)]


class OrderTrigger(msgspec.Struct, tag="order", tag_field="kind", forbid_unknown_fields=True):
    categories: Annotated[list[Short], msgspec.Meta(max_length=50)] = []
    min_amount: Money | None = None


class OrderCountTrigger(
    msgspec.Struct, tag="order_count", tag_field="kind", forbid_unknown_fields=True
):
    orders: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    days: Annotated[int, msgspec.Meta(ge=1, le=365)]


class RefundTrigger(msgspec.Struct, tag="refund", tag_field="kind", forbid_unknown_fields=True):
    stage: Literal["requested", "approved"] = "requested"


class CampaignTrigger(
    msgspec.Struct, tag="campaign_clicked", tag_field="kind", forbid_unknown_fields=True
):
    campaign_ids: Annotated[list[Short], msgspec.Meta(max_length=50)] = []  # empty: any


class CartAbandonedTrigger(
    msgspec.Struct, tag="cart_abandoned", tag_field="kind", forbid_unknown_fields=True
):
    hours: Annotated[int, msgspec.Meta(ge=1, le=72)]


class TierTrigger(msgspec.Struct, tag="tier_changed", tag_field="kind", forbid_unknown_fields=True):
    tiers: Annotated[list[Short], msgspec.Meta(min_length=1, max_length=20)]


class AttributeTrigger(
    msgspec.Struct, tag="attribute", tag_field="kind", forbid_unknown_fields=True
):
    attribute_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    values: Annotated[list[str | int | float | bool], msgspec.Meta(min_length=1, max_length=50)]


Trigger = (
    KeywordTrigger
    | IntentTrigger
    | OrderTrigger
    | OrderCountTrigger
    | RefundTrigger
    | CampaignTrigger
    | CartAbandonedTrigger
    | TierTrigger
    | AttributeTrigger
)
# Kinds whose rules match customers' messages (message.received, kefu.tags.tagger.matches): a
# shop with an enabled one has ShopProfile.message_tag_rules set, and only its messages reach
# the tagging function.
MESSAGE_KINDS = frozenset({"keyword"})
# Kinds a rule can be back-filled for: what the customer item and their orders already say.
BACKFILL_KINDS = ("order", "order_count", "refund", "tier_changed", "attribute")


class NewAutoTagRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    trigger: Trigger
    tag_ids: TagIds
    enabled: bool = True
    backfill: bool = False  # also tag the customers it matches today (a job)


class AutoTagRuleEdit(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Name | None = None
    trigger: Trigger | None = None
    tag_ids: TagIds | None = None
    enabled: bool | None = None
    backfill: bool = False


def normalise(text: str) -> str:
    """What keywords and messages are compared on: NFKC (full-width -> half-width), casefold,
    whitespace runs collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def matches_messages(definition: dict[str, Any]) -> bool:
    """An enabled rule of a kind that matches customers' messages."""
    return bool(definition.get("enabled")) and definition["trigger"].get("kind") in MESSAGE_KINDS


def trigger_doc(trigger: Any) -> dict[str, Any]:
    doc: dict[str, Any] = msgspec.to_builtins(trigger)
    return doc


def parse_trigger(doc: dict[str, Any]) -> Any:
    return msgspec.convert(doc, Trigger)


def amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    tag_ids: tuple[str, ...]
    trigger: Any


@dataclass
class RuleSet:
    """A shop's enabled rules, grouped by kind; keyword rules in one automaton."""

    by_kind: dict[str, list[CompiledRule]] = field(default_factory=lambda: defaultdict(list))
    automaton: KeywordAutomaton = field(default_factory=lambda: KeywordAutomaton({}))
    keyword_rules: list[CompiledRule] = field(default_factory=list)

    @classmethod
    def build(cls, rules: Iterable[tuple[str, dict[str, Any], list[str]]]) -> RuleSet:
        """From (rule_id, trigger document, tag ids) of the enabled rules."""
        out = cls()
        keywords: dict[str, list[int]] = defaultdict(list)
        for rule_id, doc, tag_ids in rules:
            compiled = CompiledRule(rule_id, tuple(tag_ids), parse_trigger(doc))
            kind = doc["kind"]
            if kind == "keyword":
                index = len(out.keyword_rules)
                out.keyword_rules.append(compiled)
                for word in compiled.trigger.keywords:
                    folded = normalise(word)
                    if folded and index not in keywords[folded]:
                        keywords[folded].append(index)
            else:
                out.by_kind[kind].append(compiled)
        out.automaton = KeywordAutomaton(dict(keywords))
        return out

    def __len__(self) -> int:
        return len(self.keyword_rules) + sum(len(v) for v in self.by_kind.values())

    def kinds(self, kind: str) -> list[CompiledRule]:
        return self.by_kind.get(kind, [])

    def keyword_matches(self, text: str) -> list[CompiledRule]:
        """The keyword rules with a keyword in the text: one pass of the automaton."""
        seen: set[int] = set()
        for _, indexes in self.automaton.iter(normalise(text[:MAX_MATCH_CHARS])):
            seen.update(indexes)
        return [self.keyword_rules[i] for i in sorted(seen)]

    def intent_matches(self, intent: str) -> list[CompiledRule]:
        return [r for r in self.kinds("intent") if intent in r.trigger.intents]

    def order_matches(self, order: dict[str, Any]) -> list[CompiledRule]:
        """Order rules a paid order satisfies (`order`: the order summary of the event)."""
        paid = amount(order.get("amount"))
        categories = {i.get("category") for i in order.get("items") or [] if i.get("category")}
        out = []
        for rule in self.kinds("order"):
            t = rule.trigger
            if t.categories and not categories & set(t.categories):
                continue
            if t.min_amount is not None and (paid is None or paid < Decimal(t.min_amount)):
                continue
            out.append(rule)
        return out

    def refund_matches(self, stage: str) -> list[CompiledRule]:
        return [r for r in self.kinds("refund") if r.trigger.stage == stage]

    def campaign_matches(self, campaign_id: str) -> list[CompiledRule]:
        return [
            r
            for r in self.kinds("campaign_clicked")
            if not r.trigger.campaign_ids or campaign_id in r.trigger.campaign_ids
        ]

    def cart_hours(self) -> list[int]:
        """The distinct delays of the cart_abandoned rules."""
        return sorted({r.trigger.hours for r in self.kinds("cart_abandoned")})

    def cart_matches(self, hours: int) -> list[CompiledRule]:
        return [r for r in self.kinds("cart_abandoned") if r.trigger.hours == hours]

    def tier_matches(self, tier: str) -> list[CompiledRule]:
        return [r for r in self.kinds("tier_changed") if tier in r.trigger.tiers]

    def attribute_matches(self, attribute_id: str, value: Any) -> list[CompiledRule]:
        out = []
        for rule in self.kinds("attribute"):
            if rule.trigger.attribute_id != attribute_id:
                continue
            values = value if isinstance(value, list) else [value]
            if any(v in rule.trigger.values for v in values):
                out.append(rule)
        return out
