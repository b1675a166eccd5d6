"""Tagging figures: `python -m infra.bench.tagging` (and in `python -m infra.bench`).

1. The tagging function's cost per event with 10 and with 1,000 auto-tag rules: DynamoDB
   requests per event (a message that matches a rule, one that matches none, the same event
   again), counted with infra/bench/aws_calls.py against in-process moto holding template.yaml's
   tables; and the matching CPU per message, median µs over many messages in alternating rounds,
   with the ratio (target ≤ 1.2).
2. A bulk tag job over N customers (default 500) run by the job worker: requests per customer
   and wall time (in-process moto: the time is moto's, a lower bound on nothing; the requests
   are exact). The worker's pace limit is switched off to time the work; the figure for
   100,000 customers is extrapolated from N (moto spends ~0.1 s per transaction: 100,000 would
   take hours of `make bench`), and deployed the pace limit alone makes it ≥ 1,000 s.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
if str(LAYER_PY) not in sys.path:
    sys.path.insert(0, str(LAYER_PY))

SHOP = "bench"
MESSAGES = [
    "你好，我的快递到哪了？",
    "在吗",
    "这个衣服有没有M码，尺码怎么选",
    "我要退款，东西坏了",
    "请问可以开发票吗",
    "我是会员，能不能再便宜点",
    "质量有问题，想退货换一个",
    "谢谢！",
]


def _triggers(n: int) -> list[dict[str, Any]]:
    """n rules: a few common keyword rules, the rest rare product-code keywords and other kinds."""
    base: list[dict[str, Any]] = [
        {"kind": "keyword", "keywords": ["退款", "退货"]},
        {"kind": "keyword", "keywords": ["会员", "vip"]},
        {"kind": "order", "min_amount": "500"},
        {"kind": "tier_changed", "tiers": ["高价值"]},
    ]
    extra: list[dict[str, Any]] = [
        {"kind": "keyword", "keywords": [f"SKU-{i:05d}", f"款号{i:05d}"]}
        if i % 4
        else {"kind": "order", "categories": [f"品类{i}"]}
        for i in range(max(0, n - len(base)))
    ]
    return [*base, *extra][:n]


def _message(customer_id: str, text: str, n: int) -> dict[str, Any]:
    return {
        "type": "message.received",
        "shop_id": SHOP,
        "event_id": f"message.received:m{n}",
        "occurred_at": 1_717_300_000_000,
        "data": {
            "conversation_id": "cv",
            "message_id": f"m{n}",
            "customer_id": customer_id,
            "type": "text",
            "content": {"text": text},
        },
    }


def _seed(actor: Any, rules: int) -> None:
    """The tag and the rules, written straight to the table (editing is not what is measured):
    every trigger is checked by the rules' own schema first."""
    import msgspec
    from kefu.ids import now_ms
    from kefu.storage.tags import AutoTagRule, TagsHead
    from kefu.tags import catalog
    from kefu.tags.rules import NewAutoTagRule, trigger_doc

    tag_id = catalog.create_tag(actor, catalog.NewTag(name=f"标签{rules}"))["tag_id"]
    at = now_ms()
    with AutoTagRule.batch_write() as batch:
        for i, trigger in enumerate(_triggers(rules)):
            body = msgspec.convert(
                {"name": f"r{i}", "trigger": trigger, "tag_ids": [tag_id]}, NewAutoTagRule
            )
            rule_id = f"atr_{i:013d}{i:010x}"
            batch.save(
                AutoTagRule(
                    SHOP,
                    AutoTagRule.key(rule_id),
                    rule_id=rule_id,
                    name=body.name,
                    trigger=trigger_doc(body.trigger),
                    tag_ids=body.tag_ids,
                    enabled=True,
                    created_at=at,
                    updated_at=at,
                )
            )
    TagsHead(SHOP, TagsHead.key(), rule_count=rules, rules_revision=1).save()


def requests_per_event() -> dict[str, Any]:
    from infra.bench import aws_calls
    from infra.bench.moto_env import moto_env, seed_shop

    aws_calls.install()
    out: dict[str, Any] = {}
    for rules in (10, 1_000):
        with moto_env():
            from kefu import caches
            from kefu.events import decode
            from kefu.ids import now_ms
            from kefu.storage.customers import Customer
            from kefu.tags import rules_admin, tagger

            caches.clear_all()
            actor = seed_shop(SHOP, {"sup": "supervisor"})["sup"]
            _seed(actor, rules)
            for c in ("c1", "c2", "c3"):
                Customer(SHOP, Customer.key(c), customer_id=c, created_at=now_ms()).save()
            tagger.handle(decode(_message("c3", "在吗", 0)))  # compiles the rules (once)

            def count(event: dict) -> dict:
                # The worst case: the rules head's revision re-read (at most once a second per
                # shop and instance), the compiled rules still current.
                rules_admin._revisions.clear()
                aws_calls.LOG.clear()
                tagger.handle(decode(event))
                return aws_calls.dynamodb_counts(aws_calls.LOG.snapshot())

            out[f"{rules} rules"] = {
                "message matching a rule (tag added)": count(_message("c1", "我要退款", 1)),
                "the same event again (nothing written)": count(_message("c1", "我要退款", 1)),
                "message matching no rule": count(_message("c2", "在吗", 2)),
            }
    return out


def matching_cost(messages: int = 20_000, rounds: int = 11) -> dict[str, Any]:
    from kefu.tags.rules import RuleSet

    from infra.bench.rounds import alternating_rounds, paired_ratio

    rng = random.Random(1)
    sample = [
        rng.choice(MESSAGES) + (f" SKU-{rng.randrange(1_000):05d}" if rng.random() < 0.1 else "")
        for _ in range(messages)
    ]
    sets = {
        n: RuleSet.build((f"r{i}", t, ["t"]) for i, t in enumerate(_triggers(n)))
        for n in (10, 1_000)
    }

    def run(rule_set: RuleSet) -> None:
        for text in sample:
            rule_set.keyword_matches(text)

    per_round = alternating_rounds({n: partial(run, s) for n, s in sets.items()}, messages, rounds)
    out: dict[str, Any] = {
        f"{n} rules: median µs per message": round(statistics.median(per_round[n]), 2)
        for n in (10, 1_000)
    }
    out["ratio 1,000 ÷ 10 (target ≤ 1.2)"] = paired_ratio(per_round[1_000], per_round[10])
    return out


def bulk_tag(customers: int = 500) -> dict[str, Any]:
    from infra.bench import aws_calls
    from infra.bench.moto_env import moto_env, seed_shop

    aws_calls.install()
    with moto_env():
        import os

        import boto3
        from kefu import jobs
        from kefu.ids import now_ms
        from kefu.jobs import worker
        from kefu.storage.customers import Customer
        from kefu.tags import catalog

        os.environ["JOBS_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName="bench-jobs")[
            "QueueUrl"
        ]
        actor = seed_shop(SHOP, {"boss": "owner"})["boss"]
        tag_id = catalog.create_tag(actor, catalog.NewTag(name="批量"))["tag_id"]
        with Customer.batch_write() as batch:
            for n in range(customers):
                batch.save(
                    Customer(
                        SHOP,
                        Customer.key(f"c{n:06d}"),
                        customer_id=f"c{n:06d}",
                        created_at=now_ms(),
                    )
                )
        job = jobs.submit(
            SHOP, "tag", {"tag_ids": [tag_id]}, actor, selection=jobs.Selection(all=True)
        )
        aws_calls.LOG.clear()
        paced, worker._pace = (
            worker._pace,
            lambda units, took_s, per_second=0: None,
        )  # the work, not the pace
        try:
            started = time.perf_counter()
            outcome = worker.run(SHOP, job.job_id, lambda: 600_000)
            elapsed = time.perf_counter() - started
        finally:
            worker._pace = paced
        counts = aws_calls.dynamodb_counts(aws_calls.LOG.snapshot())
        events = sum(1 for c in aws_calls.LOG.snapshot() if c.operation == "PutEvents")
        done = worker._load(SHOP, job.job_id)
    assert outcome["outcome"] == "done" and done is not None and int(done.done) == customers
    return {
        "customers": customers,
        "DynamoDB requests": counts["dynamodb_requests"],
        "DynamoDB requests per customer": round(counts["dynamodb_requests"] / customers, 3),
        "per operation": counts["per_operation"],
        "PutEvents per customer": round(events / customers, 3),
        "wall time s (in-process moto, pace off)": round(elapsed, 1),
        "100,000 customers: wall time s, extrapolated (in-process moto)": round(
            elapsed / customers * 100_000
        ),
        "100,000 customers deployed: at least (pace limit 100/s)": round(
            100_000 / worker.MAX_CUSTOMERS_PER_SECOND
        ),
    }


def report() -> dict[str, Any]:
    return {
        "DynamoDB requests per event": requests_per_event(),
        "keyword matching cost": matching_cost(),
        "bulk tag job": bulk_tag(),
    }


if __name__ == "__main__":
    print(json.dumps(report(), ensure_ascii=False, indent=2))
