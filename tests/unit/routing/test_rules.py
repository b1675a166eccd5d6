"""Specification: routing rules pick a conversation's queue and priority. The first rule whose
conditions all hold wins; the compiled keyword matcher gives exactly the answers of a naive scan
of every rule, at 10 rules and at 10,000."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import msgspec
import pytest
from kefu.errors import BadRequest
from kefu.routing.rules import (
    BusinessHours,
    CompiledRules,
    Decision,
    Facts,
    RoutingRule,
    RuleConditions,
    check_rules,
    decode_rules,
    encode_rules,
    naive_decide,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(y, mo, d, h, mi=0):
    """Epoch ms of a wall-clock time in Shanghai."""
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).timestamp() * 1000)


MONDAY_10 = _at(2025, 6, 2, 10)  # 2025-06-02 is a Monday
MONDAY_23 = _at(2025, 6, 2, 23)
TUESDAY_03 = _at(2025, 6, 3, 3)
SATURDAY_10 = _at(2025, 6, 7, 10)


def rule(rule_id, queue, priority=0, **conditions):
    return RoutingRule(
        rule_id=rule_id, queue=queue, priority=priority, conditions=RuleConditions(**conditions)
    )


def decide(rules, **facts):
    facts.setdefault("at_ms", MONDAY_10)
    compiled = CompiledRules(rules).decide(Facts(**facts))
    assert compiled == naive_decide(rules, Facts(**facts)), "matcher and naive scan disagree"
    return compiled


def test_no_rules_or_no_match_goes_to_the_default_queue():
    assert decide([], text="你好") == Decision(None)
    assert decide([rule("r", "logistics", keywords=["快递"])], text="你好") == Decision(None)


def test_a_keyword_anywhere_in_the_message_routes_it():
    rules = [rule("logistics", "logistics", 3, keywords=["快递", "物流"])]
    assert decide(rules, text="我的快递到哪了") == Decision("logistics", 3, "logistics")


def test_latin_keywords_match_case_insensitively():
    rules = [rule("ship", "logistics", keywords=["Shipping", "SF"])]
    assert decide(rules, text="when is SHIPPING?").queue == "logistics"
    assert decide(rules, text="sf express").queue == "logistics"


def test_the_first_matching_rule_in_order_wins():
    rules = [
        rule("vip", "vip", 8, tiers=["vip"]),
        rule("refund", "after-sales", 5, keywords=["退款"]),
        rule("any", "pre-sales", 1),
    ]
    assert decide(rules, text="我要退款", tier="vip").rule_id == "vip"
    assert decide(rules, text="我要退款", tier="regular").rule_id == "refund"
    assert decide(rules, text="你好", tier="regular").rule_id == "any"


def test_all_conditions_of_a_rule_must_hold():
    rules = [rule("vip-refund", "vip", 9, keywords=["退款"], tiers=["vip"], channels=["app"])]
    assert decide(rules, text="退款", tier="vip", channel="app").queue == "vip"
    assert decide(rules, text="退款", tier="vip", channel="wechat_miniprogram").queue is None
    assert decide(rules, text="退款", tier="regular", channel="app").queue is None
    assert decide(rules, text="你好", tier="vip", channel="app").queue is None


def test_a_disabled_rule_never_matches():
    r = rule("off", "vip", keywords=["退款"])
    r.enabled = False
    assert decide([r], text="退款").queue is None


def test_customer_tags_match_when_the_customer_has_any_of_them():
    rules = [rule("risky", "vip", tags=["complained", "blacklist-watch"])]
    assert decide(rules, tags=frozenset({"complained", "newbie"})).queue == "vip"
    assert decide(rules, tags=frozenset({"newbie"})).queue is None
    assert decide(rules).queue is None


def test_product_category_comes_from_the_card_case_insensitively():
    rules = [rule("beauty", "beauty", categories=["Cosmetics"])]
    assert decide(rules, categories=frozenset({"cosmetics"})).queue == "beauty"
    assert decide(rules, categories=frozenset({"shoes"})).queue is None


def test_without_a_card_the_category_of_the_latest_order_is_looked_up_only_when_needed():
    calls = []

    def latest_order():
        calls.append(1)
        return frozenset({"cosmetics"}), frozenset()

    assert (
        decide(
            [rule("beauty", "beauty", categories=["cosmetics"])], latest_order=latest_order
        ).queue
        == "beauty"
    )
    calls.clear()
    decide([rule("kw", "logistics", keywords=["快递"])], text="快递", latest_order=latest_order)
    assert calls == []  # no candidate rule needed a category


def test_no_order_information_means_no_category():
    rules = [rule("beauty", "beauty", categories=["cosmetics"])]
    assert decide(rules, latest_order=lambda: (frozenset(), frozenset())).queue is None
    assert decide(rules).queue is None


def test_seller_shop_routes_a_malls_merchant_to_its_queue():
    rules = [rule("nike", "nike-desk", seller_shops=["nike-store"])]
    assert decide(rules, seller_shops=frozenset({"nike-store"})).queue == "nike-desk"
    assert decide(rules, seller_shops=frozenset({"adidas"})).queue is None
    from_order = lambda: (frozenset(), frozenset({"nike-store"}))  # noqa: E731
    assert decide(rules, latest_order=from_order).queue == "nike-desk"


def test_business_hours_use_weekdays_and_ranges_in_the_shops_timezone():
    hours = BusinessHours(weekdays=[1, 2, 3, 4, 5], ranges=["09:00-12:00", "13:00-18:00"])
    rules = [rule("office", "pre-sales", hours=hours)]
    assert decide(rules, at_ms=MONDAY_10).queue == "pre-sales"
    assert decide(rules, at_ms=_at(2025, 6, 2, 12, 30)).queue is None  # lunch
    assert decide(rules, at_ms=SATURDAY_10).queue is None


def test_an_overnight_range_belongs_to_the_day_it_starts():
    hours = BusinessHours(weekdays=[1], ranges=["22:00-06:00"])
    rules = [rule("night", "night-desk", hours=hours)]
    assert decide(rules, at_ms=MONDAY_23).queue == "night-desk"
    assert decide(rules, at_ms=TUESDAY_03).queue == "night-desk"  # Monday night, continued
    assert decide(rules, at_ms=_at(2025, 6, 3, 23)).queue is None  # Tuesday night


def test_outside_hours_routes_after_hours_traffic():
    hours = BusinessHours(weekdays=[1, 2, 3, 4, 5, 6, 7], ranges=["09:00-21:00"], outside=True)
    rules = [rule("after-hours", "after-hours", hours=hours)]
    assert decide(rules, at_ms=MONDAY_23).queue == "after-hours"
    assert decide(rules, at_ms=MONDAY_10).queue is None


def test_the_channel_condition():
    rules = [rule("app", "app-desk", channels=["app", "h5"])]
    assert decide(rules, channel="h5").queue == "app-desk"
    assert decide(rules, channel="wechat_miniprogram").queue is None


def test_rules_round_trip_through_their_compressed_storage():
    rules = [rule(f"r{i}", "q", keywords=[f"词{i}"]) for i in range(100)]
    assert decode_rules(encode_rules(rules)) == rules


def test_duplicate_rule_ids_and_unknown_timezones_are_refused():
    with pytest.raises(BadRequest) as exc:
        check_rules([rule("a", "q"), rule("a", "q")], "Asia/Shanghai")
    assert exc.value.code == "duplicate_rule_id"
    with pytest.raises(BadRequest) as exc:
        check_rules([], "Mars/Olympus")
    assert exc.value.code == "invalid_timezone"


def test_priority_outside_0_to_9_is_a_validation_error():
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"rule_id": "a", "queue": "q", "priority": 10}, RoutingRule)


# --- the matcher agrees with the naive scan ---------------------------------------------------

WORDS = ["快递", "物流", "退款", "退货", "发票", "尺码", "优惠券", "会员", "shipping", "Refund"]


def _random_rules(n, rng):
    rules = []
    for i in range(n):
        conditions = {}
        roll = rng.random()
        if roll < 0.85:  # most rules have keywords: a few common words, mostly rare SKU-like ones
            conditions["keywords"] = [
                rng.choice(WORDS) if rng.random() < 0.02 else f"sku{rng.randrange(n * 3)}"
                for _ in range(rng.randint(1, 3))
            ]
        if rng.random() < 0.2:
            conditions["tiers"] = [rng.choice(["vip", "regular", "gold"])]
        if rng.random() < 0.1:
            conditions["channels"] = [rng.choice(["app", "wechat_miniprogram"])]
        if rng.random() < 0.05:
            conditions["tags"] = [rng.choice(["complained", "new"])]
        rules.append(rule(f"r{i}", f"q{i % 7}", rng.randrange(10), **conditions))
    return rules


def _random_facts(n, rng):
    words = [
        rng.choice(WORDS) if rng.random() < 0.5 else f"sku{rng.randrange(n * 3)}" for _ in range(3)
    ]
    return Facts(
        text="您好，" + "，".join(words) + "。",
        tier=rng.choice(["vip", "regular", "gold"]),
        channel=rng.choice(["app", "wechat_miniprogram"]),
        tags=frozenset(rng.sample(["complained", "new", "x"], rng.randint(0, 2))),
        at_ms=MONDAY_10,
    )


@pytest.mark.parametrize("n", [10, 10_000])
def test_the_compiled_matcher_gives_the_same_answers_as_a_naive_scan(n):
    rng = random.Random(n)
    rules = _random_rules(n, rng)
    compiled = CompiledRules(rules)
    matched = 0
    for _ in range(300):
        facts = _random_facts(n, rng)
        got = compiled.decide(facts)
        assert got == naive_decide(rules, facts), facts.text
        matched += got.queue is not None
    assert matched > 0  # the test exercises matches, not only misses


def test_keyword_candidates_are_exactly_the_rules_whose_keywords_occur():
    rng = random.Random(7)
    rules = _random_rules(2_000, rng)
    compiled = CompiledRules(rules)
    for _ in range(100):
        text = _random_facts(2_000, rng).text
        expected = {
            i
            for i, r in enumerate(rules)
            if r.conditions.keywords
            and any(k.lower() in text.lower() for k in r.conditions.keywords)
        }
        assert compiled.keyword_candidates(text) == expected
