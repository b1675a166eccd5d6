"""Customer import figures: `python -m infra.bench.customer_import` (also in `make bench`).

1. Reading and checking a generated 100,000-row CSV (the import job's planning step: the file
   from S3, every row parsed, mapped and checked, the chunks built): rows per second and the
   memory peak (tracemalloc, over the planning step alone).
2. The whole job — planning, then every row upserted through the profile write path (identity,
   encryption, lookup items, tags) by the job worker — over a smaller file (default 500 rows:
   moto in process spends ~0.1 s per customer transaction, so 100,000 rows would take hours):
   rows per second on in-process moto and DynamoDB requests per row; then the same file again,
   whose writes to the customers and tags tables must be 0 (the job's own bookkeeping — its
   item, chunks, runner lease, audit records — is counted apart).
The worker's pace limit (an import: 30 rows a second, kefu.customers.import_job) is switched off
here, to measure the work; deployed, a 100,000-row import takes at least 3,333 s by that limit.
"""

from __future__ import annotations

import io
import json
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
if str(LAYER_PY) not in sys.path:
    sys.path.insert(0, str(LAYER_PY))

SHOP = "bench"
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
REGIONS = ["广东省/深圳市", "浙江省/杭州市", "上海市", "北京市", "四川省/成都市"]
TAGS = ["VIP", "复购", "新客", "母婴", "数码"]
SURNAMES = "王李张刘陈杨黄赵吴周"


def generate_csv(rows: int, seed: int = 7) -> bytes:
    """A 有赞-style export: 姓名, 手机号, 性别, 生日, 地区, 标签, 备注, 客户来源; 1% bad rows."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("姓名,手机号,性别,生日,地区,标签,备注,客户来源\n")
    for n in range(rows):
        phone = f"13{n % 10}{n:08d}"
        if n % 100 == 99:
            phone = "12345"  # a bad row: not a phone
        out.write(
            f"{rng.choice(SURNAMES)}{n % 97}号,{phone},{rng.choice('男女')},"
            f"19{rng.randrange(60, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d},"
            f"{rng.choice(REGIONS)},{'|'.join(rng.sample(TAGS, 2))},备注{n},小程序\n"
        )
    return out.getvalue().encode("utf-8")


def _customer_keys() -> None:
    """The KMS key and keyed-hash secret profiles need (tests/support/aws.py makes the same)."""
    import os

    import boto3

    os.environ["CUSTOMER_DATA_KEY_ID"] = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    os.environ["CUSTOMER_LOOKUP_SECRET_ARN"] = boto3.client("secretsmanager").create_secret(
        Name="kefu/bench/customer-lookup-key", SecretString="b" * 64
    )["ARN"]
    from kefu import caches

    caches.clear_all()


def _submit(actor: Any, data: bytes) -> Any:
    from kefu import jobs
    from kefu.transfers import new_upload_key, put_object

    key = new_upload_key(SHOP, "bench.csv")
    put_object(key, data)
    params = {"upload_key": key, "filename": "bench.csv", "unknown_tags": "create"}
    return jobs.submit(SHOP, "customer_import", params, actor, selection=None)


def planning(rows: int = 100_000) -> dict[str, Any]:
    from infra.bench.moto_env import moto_env, seed_shop

    data = generate_csv(rows)
    with moto_env():
        import os

        import boto3
        from kefu.customers import import_job

        os.environ["JOBS_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName="bench-imp")[
            "QueueUrl"
        ]
        _customer_keys()
        actor = seed_shop(SHOP, {"boss": "owner"})["boss"]
        job = _submit(actor, data)
        started = time.perf_counter()
        planned = import_job.plan(job)
        elapsed = time.perf_counter() - started
        tracemalloc.start()  # a second pass: tracing slows it down ~2x
        import_job.plan(job)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    good = sum(len(c) for c in planned.chunks)
    return {
        "rows": rows,
        "file MB": round(len(data) / 2**20, 1),
        "rows checked per second": round(rows / elapsed),
        "seconds": round(elapsed, 1),
        "memory peak MB (tracemalloc)": round(peak / 2**20, 1),
        "good rows / refused rows": f"{good} / {len(planned.errors)}",
    }


def whole_job(rows: int = 500) -> dict[str, Any]:
    from infra.bench import aws_calls
    from infra.bench.moto_env import moto_env, seed_shop

    aws_calls.install()
    data = generate_csv(rows, seed=11)
    with moto_env():
        import os

        import boto3
        from kefu.customers import import_job
        from kefu.jobs import worker
        from kefu.storage.customers import CUSTOMER_PREFIX, Customer

        os.environ["JOBS_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName="bench-imp")[
            "QueueUrl"
        ]
        paced = worker._pace
        worker._pace = lambda units, took_s, per_second=0: None  # the work, not the pace
        _customer_keys()
        actor = seed_shop(SHOP, {"boss": "owner"})["boss"]

        def run() -> tuple[float, list]:
            job = _submit(actor, data)
            aws_calls.LOG.clear()
            started = time.perf_counter()
            outcome = worker.run(SHOP, job.job_id, lambda: 3_600_000)
            assert outcome["outcome"] == "done", outcome
            return time.perf_counter() - started, aws_calls.LOG.snapshot()

        first_s, first = run()
        revs = {
            c.customer_id: c.profile_rev
            for c in Customer.query(SHOP, Customer.sk.startswith(CUSTOMER_PREFIX))
        }
        again_s, again = run()
        worker._pace = paced
        revs_again = {
            c.customer_id: c.profile_rev
            for c in Customer.query(SHOP, Customer.sk.startswith(CUSTOMER_PREFIX))
        }

    def writes(calls: list, *, customer_data: bool) -> int:
        return sum(
            1
            for c in calls
            if c.service == "dynamodb"
            and c.operation in WRITES
            and any(("ustomer" in t or "Tags" in t) for t in c.tables) == customer_data
        )

    requests = aws_calls.dynamodb_counts(first)["dynamodb_requests"]
    assert revs == revs_again, "the re-import changed a profile"
    assert writes(again, customer_data=True) == 0, "the re-import wrote customer data"
    return {
        "rows": rows,
        "customers created": len(revs),
        "first import: rows per second (in-process moto, pace off)": round(rows / first_s, 1),
        "first import: DynamoDB requests per row": round(requests / rows, 2),
        "re-import: rows per second": round(rows / again_s, 1),
        "re-import: writes to customers and tags tables (must be 0)": writes(
            again, customer_data=True
        ),
        "re-import: job bookkeeping writes (job, chunks, lease, audit)": writes(
            again, customer_data=False
        ),
        "100,000 rows deployed: seconds at least (the import's pace, 30 rows/s)": (
            100_000 // import_job.ROWS_PER_SECOND
        ),
    }


def report() -> dict[str, Any]:
    return {"reading and checking 100,000 rows": planning(), "whole import job": whole_job()}


if __name__ == "__main__":
    print(json.dumps(report(), ensure_ascii=False, indent=2))
