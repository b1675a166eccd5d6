"""Specification: auto-tag rules as the tagging function compiles them — every keyword of every
rule in one automaton, the other kinds looked up by kind, each condition as the shop wrote it."""

import msgspec
import pytest
from kefu.tags.rules import NewAutoTagRule, RuleSet


def _rules(*triggers: dict) -> RuleSet:
    return RuleSet.build((f"r{n}", t, [f"tag-{n}"]) for n, t in enumerate(triggers))


def _ids(found) -> list[str]:
    return [r.rule_id for r in found]


def test_keywords_of_all_rules_match_in_one_pass_whatever_their_number():
    rules = _rules(
        {"kind": "keyword", "keywords": ["退款", "退货"]},
        {"kind": "keyword", "keywords": ["ＶＩＰ"]},  # full-width: matched as "vip"
        *({"kind": "keyword", "keywords": [f"商品{n}号"]} for n in range(1000)),
    )
    assert len(rules) == 1002
    assert _ids(rules.keyword_matches("我想 退货，可以吗")) == ["r0"]
    assert _ids(rules.keyword_matches("我是vip, 商品7号有货吗")) == ["r1", "r9"]
    assert rules.keyword_matches("你好") == []


def test_orders_match_by_category_and_amount():
    rules = _rules(
        {"kind": "order", "categories": ["美妆"]},
        {"kind": "order", "min_amount": "500"},
        {"kind": "order", "categories": ["美妆"], "min_amount": "100.50"},
    )
    order = {"amount": "100.50", "items": [{"category": "美妆"}, {"category": "食品"}]}
    assert _ids(rules.order_matches(order)) == ["r0", "r2"]
    assert _ids(rules.order_matches({"amount": "999", "items": []})) == ["r1"]
    assert _ids(rules.order_matches({"amount": "not money"})) == []


def test_the_other_kinds():
    rules = _rules(
        {"kind": "refund", "stage": "approved"},
        {"kind": "campaign_clicked", "campaign_ids": []},
        {"kind": "campaign_clicked", "campaign_ids": ["c-618"]},
        {"kind": "tier_changed", "tiers": ["高价值", "忠实"]},
        {"kind": "attribute", "attribute_id": "skin", "values": ["油性"]},
        {"kind": "intent", "intents": ["kbe_returns"]},
    )
    assert (
        _ids(rules.refund_matches("approved")) == ["r0"] and rules.refund_matches("requested") == []
    )
    assert _ids(rules.campaign_matches("c-618")) == ["r1", "r2"]
    assert _ids(rules.campaign_matches("c-1111")) == ["r1"]
    assert _ids(rules.tier_matches("忠实")) == ["r3"] and rules.tier_matches("新客") == []
    assert _ids(rules.attribute_matches("skin", ["干性", "油性"])) == ["r4"]
    assert rules.attribute_matches("hair", "油性") == []
    assert _ids(rules.intent_matches("kbe_returns")) == ["r5"]


@pytest.mark.parametrize(
    "trigger",
    [
        {"kind": "teleport"},
        {"kind": "keyword", "keywords": []},
        {"kind": "order", "min_amount": "12.345"},
        {"kind": "order_count", "orders": 3, "days": 0},
        {"kind": "attribute", "attribute_id": "Skin Type", "values": ["x"]},
    ],
)
def test_a_rule_that_cannot_match_is_refused(trigger):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"name": "x", "trigger": trigger, "tag_ids": ["t"]}, NewAutoTagRule)
