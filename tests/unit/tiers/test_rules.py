"""Specification: RFM scores from the purchase summary against the shop's cut-offs, the first
tier whose score ranges hold, member levels from points, and settings that cannot leave a
customer without a tier."""

from __future__ import annotations

import msgspec
import pytest
from kefu.errors import BadRequest
from kefu.tiers.rules import (
    DAY_MS,
    DEFAULTS,
    UNSCORED,
    Rfm,
    Summary,
    TierSettings,
    cents,
    check,
    compile_settings,
)

NOW = 1_800_000_000_000


def _summary(orders: int, yuan: int, days_ago: float) -> Summary:
    return Summary(orders, yuan * 100, NOW - int(days_ago * DAY_MS))


@pytest.mark.parametrize(
    ("days_ago", "r"), [(0, 5), (30, 5), (31, 4), (90, 4), (91, 3), (180, 3), (365, 2), (366, 1)]
)
def test_recency_scores_fall_as_the_last_purchase_ages(days_ago, r):
    assert DEFAULTS.scores(_summary(1, 50, days_ago), NOW).r == r


@pytest.mark.parametrize(("orders", "f"), [(1, 1), (2, 2), (3, 3), (5, 4), (9, 4), (10, 5)])
def test_frequency_scores_rise_with_the_number_of_orders(orders, f):
    assert DEFAULTS.scores(_summary(orders, 50, 1), NOW).f == f


@pytest.mark.parametrize(
    ("yuan", "m"), [(99, 1), (100, 2), (499, 2), (500, 3), (2000, 4), (5000, 5)]
)
def test_monetary_scores_rise_with_what_was_spent_in_yuan(yuan, m):
    assert DEFAULTS.scores(_summary(1, yuan, 1), NOW).m == m


def test_a_customer_with_no_purchase_has_no_scores_and_the_built_in_tier():
    result = DEFAULTS.evaluate(Summary(), points=0, now=NOW)
    assert (result.rfm, result.tier) == (None, UNSCORED)


@pytest.mark.parametrize(
    ("summary", "tier"),
    [
        (_summary(12, 8000, 3), "high_value"),
        (_summary(4, 800, 100), "loyal"),
        (_summary(1, 80, 10), "new"),
        (_summary(2, 300, 60), "active"),
        (_summary(6, 3000, 200), "dormant"),
        (_summary(6, 3000, 400), "lost"),
    ],
)
def test_the_default_tiers_read_as_their_names_say(summary, tier):
    assert DEFAULTS.evaluate(summary, 0, NOW).tier == tier


def test_the_first_tier_whose_ranges_all_hold_wins():
    settings = compile_settings(
        msgspec.convert(
            {
                "tiers": [
                    {"tier_id": "vip", "name": "贵宾", "m": [5, 5]},
                    {"tier_id": "big", "name": "大客户", "m": [4, 5]},
                    {"tier_id": "rest", "name": "其他"},
                ]
            },
            TierSettings,
        )
    )
    assert settings.tier_for(Rfm(1, 1, 5)) == "vip"
    assert settings.tier_for(Rfm(1, 1, 4)) == "big"
    assert settings.tier_for(Rfm(5, 5, 3)) == "rest"


def test_member_levels_follow_points_only_when_the_shop_uses_points():
    assert DEFAULTS.level_for(6_000) is None
    on = compile_settings(TierSettings(points_enabled=True))
    assert [on.level_for(p) for p in (0, 999, 1_000, 5_000, 25_000)] == [
        "member",
        "member",
        "silver",
        "gold",
        "diamond",
    ]


def test_points_are_earned_per_yuan_rounded_down_per_order():
    settings = compile_settings(TierSettings(points_enabled=True, points_per_yuan=1.5))
    assert settings.points_for(cents("99.99")) == 149
    assert DEFAULTS.points_for(cents("99.99")) == 0  # the shop does not use points


def test_money_strings_become_cents():
    assert [cents(x) for x in ("79", "79.5", "79.05", "", None, "abc")] == [
        7900,
        7950,
        7905,
        0,
        0,
        0,
    ]


def test_the_defaults_pass_their_own_checks():
    check(TierSettings())


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"recency_days": [30, 30, 60, 90]}, "invalid_thresholds"),
        ({"tiers": [{"tier_id": "regular", "name": "普通"}]}, "reserved_tier"),
        (
            {"tiers": [{"tier_id": "a", "name": "甲"}, {"tier_id": "a", "name": "乙"}]},
            "duplicate_tier",
        ),
        ({"tiers": [{"tier_id": "a", "name": "甲", "r": [4, 2]}]}, "invalid_range"),
        ({"tiers": [{"tier_id": "a", "name": "甲", "r": [3, 5]}]}, "tiers_incomplete"),
        ({"member_levels": [{"level_id": "x", "name": "X", "min_points": 10}]}, "invalid_levels"),
    ],
)
def test_settings_that_do_not_hold_together_are_refused_with_a_code(change, code):
    with pytest.raises(BadRequest) as caught:
        check(msgspec.convert(change, TierSettings))
    assert caught.value.code == code


def test_an_incomplete_tier_list_names_the_scores_nobody_would_reach():
    with pytest.raises(BadRequest) as caught:
        check(
            msgspec.convert({"tiers": [{"tier_id": "a", "name": "甲", "r": [3, 5]}]}, TierSettings)
        )
    assert caught.value.details == {"r": 1, "f": 1, "m": 1}
