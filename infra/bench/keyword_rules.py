"""Keyword auto-reply matching cost: `python -m infra.bench.keyword_rules` (and in
`python -m infra.bench`).

The bot turn asks the shop's compiled rules (kefu.bot.keyword_rules_matcher.RuleMatcher) which rule
answers a message. Exact and contains keywords of all rules are one Aho-Corasick automaton, so
the cost must not grow with the number of rules: median µs per message with 10 and with 10,000
rules, measured in one run over the same messages (alternating rounds, collector paused), and
the ratio (target ≤ 1.2). Both sets carry the same few regex rules, which are checked one by one
(at most 50 a shop). Pure CPU, in-process: no AWS.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
if str(LAYER_PY) not in sys.path:
    sys.path.insert(0, str(LAYER_PY))

MESSAGES = [
    "你好，我的快递到哪了？",
    "在吗",
    "这个衣服有没有M码，尺码怎么选",
    "我要退款，东西坏了",
    "请问可以开发票吗",
    "优惠券怎么用不了",
    "What is the shipping time to Shanghai?",
    "我是会员，能不能再便宜点",
    "昨天下的单什么时候发货，订单号 20240601123456",
    "质量有问题，想退货换一个",
    "转人工",
    "谢谢！",
]
CHANNELS = ["wechat_miniprogram", "wechat_miniprogram", "app", "h5"]


def _rules(n: int) -> list:
    import msgspec
    from kefu.bot.keyword_rules import NewKeywordRule, check_rule
    from kefu.storage.keyword_rules import KeywordRule

    text = [{"type": "text", "content": "{customer_name|亲}您好～"}]
    base = [
        ("exact", ["在吗", "你好", "hello"], 1, {}),
        ("exact", ["谢谢", "好的"], 0, {}),
        ("contains", ["快递", "物流", "发货", "shipping"], 5, {}),
        ("contains", ["退款", "退货"], 8, {}),
        ("contains", ["发票"], 3, {"channels": ["wechat_miniprogram"]}),
        ("contains", ["尺码", "M码"], 2, {}),
        ("contains", ["人工", "客服"], 9, {"active": {"when": "off_hours"}}),
        ("contains", ["优惠券", "会员"], 4, {}),
        ("regex", [r"订单号?\s*\d{10,}"], 6, {}),
        ("regex", [r"(?i)\bvip\b"], 2, {}),
    ]
    # Big catalogues answer product questions by code: thousands of rare keyword rules.
    extra = [
        ("contains" if i % 3 else "exact", [f"SKU-{i:05d}", f"款号{i:05d}"], i % 10, {})
        for i in range(max(0, n - len(base)))
    ]
    out = []
    for i, (mode, keywords, priority, more) in enumerate([*extra, *base][-n:]):
        body = msgspec.convert(
            {"name": f"r{i}", "match_mode": mode, "keywords": keywords, "priority": priority,
             "replies": text, **more},
            NewKeywordRule,
        )  # fmt: skip
        rule_id = f"kwr_{i:013d}{i:010x}"
        out.append(
            KeywordRule("bench", KeywordRule.key(rule_id), rule_id=rule_id, **check_rule(body))
        )
    return out


def _match_all(match: Callable[..., object], sample: list, calendar: object) -> None:
    for text, channel, at in sample:
        match(text, channel, at, calendar)


def matching_cost(messages: int = 20_000, rounds: int = 11) -> dict[str, Any]:
    from kefu.bot.keyword_rules_matcher import RuleMatcher
    from kefu.tickets.calendar import DEFAULT_CALENDAR

    rng = random.Random(1)
    sample = [
        (
            rng.choice(MESSAGES)
            + (f" SKU-{rng.randrange(10_000):05d}" if rng.random() < 0.1 else ""),
            rng.choice(CHANNELS),
            1_717_300_000_000 + rng.randrange(7 * 86_400_000),
        )
        for _ in range(messages)
    ]
    matchers, build_ms = {}, {}
    for n in (10, 10_000):
        rules = _rules(n)
        t = time.perf_counter()
        matchers[n] = RuleMatcher(rules)
        build_ms[n] = (time.perf_counter() - t) * 1000
    answered = {
        n: sum(m.match(text, ch, at, DEFAULT_CALENDAR) is not None for text, ch, at in sample)
        for n, m in matchers.items()
    }
    from infra.bench.rounds import alternating_rounds, paired_ratio

    per_round = alternating_rounds(
        {n: partial(_match_all, m.match, sample, DEFAULT_CALENDAR) for n, m in matchers.items()},
        len(sample),
        rounds,
    )
    out: dict[str, Any] = {}
    for n in (10, 10_000):
        out[f"{n} rules"] = {
            "median µs per message": round(statistics.median(per_round[n]), 2),
            "compile ms (once per rules revision per instance)": round(build_ms[n], 1),
            "messages answered": f"{answered[n] / len(sample):.0%}",
        }
    out["ratio 10,000 ÷ 10 (target ≤ 1.2)"] = paired_ratio(per_round[10_000], per_round[10])
    return out


def report() -> dict[str, Any]:
    return {"keyword matching cost": matching_cost()}


if __name__ == "__main__":
    print(json.dumps(report(), ensure_ascii=False, indent=2))
