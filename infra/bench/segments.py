"""The segments figure (issue 10 §6): a shop with 100,000 customers and 30 tags; the count and
first page of a 5-condition filter — DynamoDB requests (target <= 50) and warm latency (target
<= 300 ms) — and exact: the count and the page are checked against a brute-force filter of the
generated data.

The customers are written as items (BatchWriteItem), then indexed by the documented rebuild path
(a Query over the shop's partition, the same bitmap writer as the stream maintainer) instead of
100,000 stream events one by one; the unit tests send samples through the stream path.
`python -m infra.bench.segments [--customers N]` runs it alone.

`generate` and `brute_force` are also the tests' oracle: they never touch the index's code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

SHOP = "bench-crm"
DAY_MS = 86_400_000
MINUTE_MS = 60_000
ZONE = ZoneInfo("Asia/Shanghai")
REGIONS = [
    f"{p}/{c}" for p in ("广东省", "浙江省", "江苏省", "北京市", "四川省") for c in "ABCDEFGH"
]
TIERS = ["new", "active", "loyal", "high_value", "dormant", "lost"]
STAGES = ["prospect", "ordered", "repeat", "after_sales"]
CHANNELS = ["wechat", "app", "h5"]
AGENTS = [f"agent{i}" for i in range(12)]

# The benchmark's filter: 5 conditions of 5 kinds.
FIVE_CONDITIONS: dict[str, Any] = {
    "and": [
        {"tag": {"in": ["tag03", "tag07"]}},
        {"tier": {"in": ["active", "loyal", "high_value"]}},
        {"spend": {"gte": 50_000}},
        {"last_contact": {"within_days": 90}},
        {"not": {"region": {"in": ["广东省"]}}},
    ]
}


def generate(count: int, *, tags: int = 30, seed: int = 10, now_ms: int) -> list[dict[str, Any]]:
    """Customers as item attributes (no numbers: the index gives them)."""
    rng = random.Random(seed)
    tag_ids = [f"tag{i:02d}" for i in range(tags)]
    weights = [1 / (i + 1) for i in range(tags)]  # a few popular tags, a long tail
    out = []
    for i in range(count):
        c: dict[str, Any] = {
            "customer_id": f"cus_{i:07d}",
            "display_name": f"顾客{i}",
            "created_at": now_ms - rng.randrange(400) * DAY_MS,
            "tier": rng.choice(TIERS),
            "tags": sorted(set(rng.choices(tag_ids, weights, k=rng.randrange(0, 5)))),
            "lifecycle_stage": rng.choice(STAGES),
            "channels": sorted(set(rng.choices(CHANNELS, k=rng.randrange(1, 3)))),
            "region": rng.choice(REGIONS),
        }
        if rng.random() < 0.3:
            c["owner_agent"] = rng.choice(AGENTS)
        if rng.random() < 0.7:
            c["orders_count"] = rng.randrange(1, 40)
            c["total_spent"] = rng.randrange(100, 500_000)
            c["last_purchase_at"] = now_ms - rng.randrange(0, 365 * DAY_MS)
        if rng.random() < 0.8:
            c["last_contact_at"] = now_ms - rng.randrange(0, 365 * DAY_MS)
        if rng.random() < 0.4:
            c["attributes"] = {"size": rng.choice(["S", "M", "L"]), "vip_card": rng.random() < 0.5}
        if rng.random() < 0.01:
            c["erased_at"] = now_ms
        out.append(c)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _day_start_ms(day: str) -> int:
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=ZONE).timestamp()) * 1000


_VALUED = {
    "tag": "tags",
    "tier": "tier",
    "lifecycle_stage": "lifecycle_stage",
    "channel": "channels",
    "region": "region",
    "owner_agent": "owner_agent",
}
_NUMBERS = {"spend": "total_spent", "orders_count": "orders_count"}
_TIMES = {"last_purchase": "last_purchase_at", "last_contact": "last_contact_at"}


def _values(raw: Any) -> list[Any]:
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list | tuple | set) else [raw]


def matches(f: Mapping[str, Any], c: Mapping[str, Any], now_ms: int) -> bool:
    """The filter's meaning, by definition (docs/segments.md), on one live customer."""
    ((key, value),) = f.items()
    if key == "and":
        return all(matches(x, c, now_ms) for x in value)
    if key == "or":
        return any(matches(x, c, now_ms) for x in value)
    if key == "not":
        return not matches(value, c, now_ms)
    if key in _VALUED:
        have = [v for v in _values(c.get(_VALUED[key])) if v != ""]
        if key == "region":
            have = ["/".join(r.split("/")[: i + 1]) for r in have for i in range(len(r.split("/")))]
        if "all" in value:
            return all(v in have for v in value["all"])
        return any(v in have for v in value["in"])
    if key == "attribute":
        texts = {_text(v) for v in _values((c.get("attributes") or {}).get(value["id"]))}
        return any(_text(v) in texts for v in value["in"])
    raw = c.get(_NUMBERS.get(key) or _TIMES[key])
    if value.get("exists") is False:
        return raw is None
    if raw is None:
        return False
    lows: list[int] = []
    highs: list[int] = []  # exclusive
    if key in _NUMBERS:
        lows += [value["gte"]] if "gte" in value else []
        lows += [value["gt"] + 1] if "gt" in value else []
        highs += [value["lt"]] if "lt" in value else []
        highs += [value["lte"] + 1] if "lte" in value else []
    else:
        minute = now_ms // MINUTE_MS * MINUTE_MS
        if "within_days" in value:
            lows.append(minute - value["within_days"] * DAY_MS)
        if "more_than_days" in value:
            highs.append(minute - value["more_than_days"] * DAY_MS)
        if "from" in value:
            lows.append(_day_start_ms(value["from"]))
        if "to" in value:
            highs.append(_day_start_ms(value["to"]) + DAY_MS)
    return all(raw >= lo for lo in lows) and all(raw < hi for hi in highs)


def live(c: Mapping[str, Any]) -> bool:
    return not c.get("erased_at") and not c.get("merged_into")


def brute_force(
    f: Mapping[str, Any] | None, customers: list[dict[str, Any]], now_ms: int
) -> set[str]:
    return {c["customer_id"] for c in customers if live(c) and (f is None or matches(f, c, now_ms))}


def load(shop_id: str, customers: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the customer items (numbered), then the index in bulk: the bitmaps computed from the
    same items by the rebuild's code and written by the same writer as the stream maintainer.
    (The rebuild's Query over 100,000 items is quadratic in moto; the tests run it on samples.)"""
    from kefu.segments.rebuild import store_index

    started = time.perf_counter()
    numbered = put_customers(shop_id, customers)
    written = time.perf_counter()
    items = store_index(shop_id, numbered)
    done = time.perf_counter()
    return {
        "index items written": items,
        "write customers, s": round(written - started, 1),
        "write index, s": round(done - written, 1),
    }


def put_customers(
    shop_id: str, customers: list[dict[str, Any]], *, numbered: bool = True
) -> list[tuple[int, dict[str, Any]]]:
    """The customer items as the other parts of kefu write them (every CRM attribute);
    `numbered`: with numbers, as the stream maintainer would have given them."""
    import os

    import boto3
    from boto3.dynamodb.types import TypeSerializer
    from kefu.storage.customers import Customer
    from kefu.storage.segments import allocate_numbers

    # Numbered as the stream maintainer would have numbered them, one block for all.
    if numbered:
        numbers = allocate_numbers(shop_id, len(customers))
        customers = [{**c, "number": n} for c, n in zip(customers, numbers, strict=True)]
    serializer = TypeSerializer()
    ddb = boto3.client("dynamodb")
    table = os.environ["CUSTOMERS_TABLE"]
    for start in range(0, len(customers), 25):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        k: serializer.serialize(v)
                        for k, v in {
                            "pk": shop_id,
                            "sk": Customer.key(c["customer_id"]),
                            **c,
                        }.items()
                    }
                }
            }
            for c in customers[start : start + 25]
        ]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return [(c["number"], c) for c in customers if "number" in c]


def measure(customers_count: int = 100_000, runs: int = 5) -> dict[str, Any]:
    """Inside moto_env(): generate, load, and time the 5-condition preview."""
    from kefu.ids import now_ms
    from kefu.segments import query

    from infra.bench import aws_calls

    aws_calls.install()
    import os

    import boto3

    # Page cursors are signed with a key from Secrets Manager (kefu.pagination).
    secret = boto3.client("secretsmanager").create_secret(
        Name="bench/cursor", SecretString="k" * 32
    )
    os.environ["CURSOR_SECRET_ARN"] = secret["ARN"]
    at = now_ms()
    customers = generate(customers_count, now_ms=at)
    with aws_calls.LOG.unrecorded():
        loaded = load(SHOP, customers)
    expected = brute_force(FIVE_CONDITIONS, customers, at)
    by_id = {c["customer_id"]: c for c in customers}
    query.page(SHOP, FIVE_CONDITIONS, "newest", None, 20)  # warm: imports, clients
    timings: list[float] = []
    in_moto: list[float] = []
    requests: list[list[Any]] = []
    result: dict[str, Any] = {}
    for _ in range(runs):
        aws_calls.LOG.clear()
        started = time.perf_counter()
        result = query.page(SHOP, FIVE_CONDITIONS, "newest", None, 20)
        timings.append((time.perf_counter() - started) * 1000)
        requests.append([c for c in aws_calls.LOG.snapshot() if c.service == "dynamodb"])
        in_moto.append(sum(c.seconds for c in requests[-1]) * 1000)
    page_ids = [c["customer_id"] for c in result["customers"]]
    newest = sorted(expected, key=lambda cid: -int(cid.split("_")[1]))[:20]
    aws_calls.LOG.clear()
    by_spend = query.page(SHOP, FIVE_CONDITIONS, "spend", None, 20)
    spend_requests = len([c for c in aws_calls.LOG.snapshot() if c.service == "dynamodb"])
    top_spend = sorted(
        expected, key=lambda cid: (-by_id[cid]["total_spent"], -int(cid.split("_")[1]))
    )[:20]
    exact = (
        result["count"] == len(expected)
        and page_ids == newest
        and [c["customer_id"] for c in by_spend["customers"]] == top_spend
    )
    last = requests[-1]
    return {
        "customers": customers_count,
        "tags": 30,
        "filter": "tag any of 2 AND tier in 3 AND spend >= 500 元 AND contact within 90 days "
        "AND NOT region 广东省",
        "count (index)": result["count"],
        "count (brute force)": len(expected),
        "exact (count, newest page, top spend page)": exact,
        "DynamoDB requests: count + first page (target <= 50)": len(last),
        "operations": ", ".join(sorted(f"{c.operation}" for c in last)),
        "Scans": sum(1 for r in requests for c in r if c.operation == "Scan"),
        "warm latency ms, median (target <= 300)": round(statistics.median(timings), 1),
        "warm latency ms, max": round(max(timings), 1),
        "of which in the DynamoDB calls (botocore + moto, in process), ms, median": round(
            statistics.median(in_moto), 1
        ),
        "kefu's own work (decode, bitmaps, BSI), ms, median": round(
            statistics.median(t - m for t, m in zip(timings, in_moto, strict=True)), 1
        ),
        "DynamoDB requests: first page by spend": spend_requests,
        **{f"load: {k}": v for k, v in loaded.items()},
    }


def report(customers_count: int = 100_000) -> dict[str, Any]:
    from infra.bench.moto_env import moto_env

    with moto_env():
        return measure(customers_count)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.segments")
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    for key, value in report(args.customers).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
