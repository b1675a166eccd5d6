"""`python -m infra.bench`: kefu's figures, printed.

  1. DynamoDB requests (and capacity units) per inbound message through the pipeline, per table
     and operation, against the local stack: intake of a WeChat push, the agent's reply, its
     delivery; Scans anywhere (must be 0); AWS calls made before intake answers; and every
     function's requests for one message answered by an agent, with their total, in a shop
     without auto-tag rules on messages and in one with keyword rules (infra.bench.pipeline,
     also runnable alone: `python -m infra.bench.pipeline`).
     The tagging function's requests per event and matching cost at 10 vs 1,000 auto-tag
     rules, and a bulk tag job's requests per customer (infra.bench.tagging). A customer
     import: 100,000 rows read and checked (rows/s, memory peak), the whole job over a sample
     and its re-import writing nothing (infra.bench.customer_import).
  2. Each function's import (cold-start) time in a fresh process, and the bare-imports baseline.
  3. The built layer's size and what is in it.
  4. Warm latency percentiles of handlers through the local gateway.
Requests are counted in-process (every botocore call), so the counts are exact and stable.

The figures end the output as plain-text tables (`render_tables`); the full report is also
written as JSON, and the run's log lines go to a file beside it (--out, default .bench/), so
they do not interleave with the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from infra.bench import aws_calls

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
# Calls the Lambda service makes for an SQS event source, not the function: not kefu's cost.
EVENT_SOURCE_CALLS = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueAttributes"}


def _http(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


def _kefu_calls() -> list[aws_calls.Call]:
    return [c for c in aws_calls.LOG.snapshot() if c.operation not in EVENT_SOURCE_CALLS]


def _intake(calls: list[aws_calls.Call]) -> list[aws_calls.Call]:
    # The request's own calls: consumers of its events may already be running meanwhile.
    return aws_calls.by_function(calls, "IntakeFunction")


def _measure(fn, *, settle=None) -> tuple[Any, dict]:  # noqa: ANN001
    aws_calls.LOG.clear()
    result = fn()
    if settle:
        with aws_calls.LOG.unrecorded():
            settle(result)
    return result, _kefu_calls()


def pipeline(stack: Any) -> dict[str, Any]:
    from infra.local import demo_data
    from infra.local.push import send_push, text_message
    from infra.local.wechat_standin import WeChatStandIn

    api = stack.api_url
    tables = {k: v for k, v in stack.env.items() if k.endswith("_TABLE")}
    tables = {k.removesuffix("_TABLE").lower(): v for k, v in tables.items()}
    summarize = lambda calls: aws_calls.summarize(calls, table_names=tables)  # noqa: E731
    appid = demo_data.SHOPS[0]["appid"]
    openid = WeChatStandIn.openid_for(appid, "bench-customer")
    out: dict[str, Any] = {}

    def push(text: str, msg_id: int) -> Any:
        status, body = send_push(api, "demo", text_message("demo", openid, text, msg_id))
        assert (status, body) == (200, "success"), (status, body)

    _, calls = _measure(lambda: push("第一次来，想问问尺码", 9_000_000_001))
    out["intake: first message of a new customer (WeChat push)"] = summarize(_intake(calls))
    _, calls = _measure(lambda: push("还在吗？", 9_000_000_002))
    intake_steady = summarize(_intake(calls))
    out["intake: next message, open conversation (WeChat push)"] = intake_steady
    _, calls = _measure(lambda: [push("还在吗？", 9_000_000_002) for _ in range(3)])
    out["intake: the same push retried 3 times"] = summarize(_intake(calls))

    # The agent side.
    _, login = _http(
        "POST",
        f"{api}/v1/staff/login",
        {"shop_id": "demo", "username": "agent1", "password": demo_data.PASSWORD},
    )
    agent = login["access_token"]
    with aws_calls.LOG.unrecorded():
        from kefu.customers import WECHAT_OPENID, Identity, find_identity

        conv_id = find_identity("demo", Identity(WECHAT_OPENID, openid)).open_conversation_id
        _http("POST", f"{api}/v1/conversations/{conv_id}/claim", token=agent)
        _, msgs = _http("GET", f"{api}/v1/conversations/{conv_id}/messages", token=agent)
    stored = [m for m in msgs["messages"] if m["content"].get("text") == "还在吗？"]
    out["the same push retried 3 times: messages stored"] = len(stored)

    def reply() -> dict:
        status, body = _http(
            "POST",
            f"{api}/v1/conversations/{conv_id}/replies",
            {"type": "text", "text": "在的，您说～"},
            token=agent,
        )
        assert status == 201, body
        return body

    def delivered(_: Any) -> None:
        # Read the table directly from this (unrecorded) thread: an HTTP probe would run in a
        # gateway thread and be counted.
        from kefu.storage.messages import Message, conversation_key

        deadline = time.time() + 30
        while time.time() < deadline:
            pending = [
                m
                for m in Message.query(conversation_key("demo", conv_id))
                if m.direction == "out" and m.delivery_status != "delivered"
            ]
            if not pending:
                return
            time.sleep(0.1)
        raise RuntimeError("reply not delivered within 30 s")

    def delivery_of_a_reply() -> tuple[list, list, list]:
        """(the reply request's calls, OutboundFunction's, every other consumer's)."""
        aws_calls.LOG.clear()
        reply()
        reply_calls = _kefu_calls()
        with aws_calls.LOG.unrecorded():
            delivered(None)
        time.sleep(1)  # let the other consumers of the same events finish, to show them
        after = _kefu_calls()[len(reply_calls) :]
        outbound = aws_calls.by_function(after, "OutboundFunction")
        return reply_calls, outbound, [c for c in after if c.function != "OutboundFunction"]

    reply_calls, delivery_calls, others = delivery_of_a_reply()
    out["agent reply (POST /v1/conversations/{id}/replies)"] = summarize(reply_calls)
    delivery_warm = summarize(delivery_calls)
    out["outbound delivery of the reply (token cached in the instance)"] = delivery_warm
    out["meanwhile, other consumers of the same events (notifier, routing)"] = summarize(others)

    from kefu.channels.wechat import tokens

    tokens.clear_local_cache()  # a fresh Lambda instance: the token comes from DynamoDB
    _, delivery_calls, _ = delivery_of_a_reply()
    out["outbound delivery, fresh instance (token read from DynamoDB)"] = summarize(delivery_calls)
    out["TOTAL per inbound message, intake + delivery of a reply (no bot/routing)"] = (
        intake_steady["dynamodb_requests"] + delivery_warm["dynamodb_requests"]
    )
    sync = _intake(calls_for_sync(api, push))
    out["synchronous AWS calls before intake answers (steady state)"] = {
        "count": len(sync),
        "calls": [f"{c.service}:{c.operation}" for c in sync],
    }
    out["Scans in the whole run"] = 0  # filled by caller from the full log
    return out


def calls_for_sync(api: str, push) -> list:  # noqa: ANN001
    aws_calls.LOG.clear()
    push("再问一个问题", 9_000_000_003)
    return _kefu_calls()


def latency(stack: Any, n: int) -> dict[str, dict[str, float]]:
    from infra.local import demo_data
    from infra.local.push import send_push, text_message
    from infra.local.wechat_standin import WeChatStandIn

    api = stack.api_url
    openid = WeChatStandIn.openid_for(demo_data.SHOPS[0]["appid"], "latency-customer")
    # One customer may send 20 messages per 10 s (kefu.limits): spread the samples over a pool
    # of customers, each with an open conversation already (the common case being measured).
    per_customer = 15
    customers = []
    for k in range(n // per_customer + 2):
        _, login = _http(
            "POST", f"{api}/v1/auth/wechat", {"shop_id": "demo", "code": f"latency-app-{k}"}
        )
        customers.append(login["token"])
        _http("POST", f"{api}/v1/messages", {"type": "text", "text": "开始"}, token=login["token"])
    _, staff = _http(
        "POST",
        f"{api}/v1/staff/login",
        {"shop_id": "demo", "username": "owner", "password": demo_data.PASSWORD},
    )
    owner = staff["access_token"]
    cases = {
        "POST /v1/wechat/{shop}/push (known customer)": lambda i: send_push(
            api, "demo", text_message("demo", openid, f"消息 {i}", 8_000_000_000 + i)
        ),
        "POST /v1/messages (in-app client)": lambda i: _http(
            "POST",
            f"{api}/v1/messages",
            {"type": "text", "text": f"消息 {i}"},
            token=customers[(i + 1) // per_customer],  # the warm-up call is i = -1
        ),
        "GET /v1/conversations (owner)": lambda i: _http(
            "GET", f"{api}/v1/conversations?limit=20", token=owner
        ),
    }
    results = {}
    for name, call in cases.items():
        call(-1)  # warm
        samples = []
        for i in range(n):
            t = time.perf_counter()
            call(i)
            samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        results[name] = {
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[int(0.95 * (n - 1))], 1),
            "p99_ms": round(samples[int(0.99 * (n - 1))], 1),
        }
    return results


IMPORT_SNIPPET = (
    "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
)


def _import_ms(module: str, cwd: Path, runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": f"{LAYER_PY}{os.pathsep}{cwd}"}
    env.pop("AWS_ENDPOINT_URL", None)
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_SNIPPET.format(module=module)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def import_times(runs: int) -> dict[str, float]:
    out = {}
    baseline = "chalice, pynamodb.models, aws_lambda_powertools, boto3"
    out[f"baseline: import {baseline}"] = round(_import_ms(baseline, ROOT, runs), 1)
    for fn in sorted((ROOT / "functions").iterdir()):
        if (fn / "app.py").exists():
            out[fn.name] = round(_import_ms("app", fn, runs), 1)
    return out


FORBIDDEN_IN_LAYER = ("boto3", "botocore", "moto", "pytest", "pip", "setuptools", "samcli", "ruff")


def layer_report(layer_dir: Path | None) -> dict[str, Any]:
    if not layer_dir or not layer_dir.exists():
        return {"built layer": "not built (run `make bench`, which runs sam build first)"}
    size = sum(p.stat().st_size for p in layer_dir.rglob("*") if p.is_file())
    top = {}
    py = layer_dir / "python"
    for child in py.iterdir():
        s = (
            sum(p.stat().st_size for p in child.rglob("*") if p.is_file())
            if child.is_dir()
            else child.stat().st_size
        )
        top[child.name] = s
    biggest = sorted(top.items(), key=lambda kv: -kv[1])[:6]
    return {
        "unzipped size MB": round(size / 1e6, 1),
        "largest": {k: f"{v / 1e6:.1f} MB" for k, v in biggest},
        "forbidden packages present": [p for p in FORBIDDEN_IN_LAYER if (py / p).exists()],
    }


# --------------------------------------------------------------------------------- the tables


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return "-" if value is None else str(value)


def _grid(rows: list[list[str]], header: list[str] | None = None) -> list[str]:
    """Left-aligned first column, right-aligned figures, a rule under the header."""
    every = ([header] if header else []) + rows
    widths = [max(len(r[i]) for r in every) for i in range(len(every[0]))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = []
    if header:
        out += [line(header), "  ".join("-" * w for w in widths)]
    return out + [line(r) for r in rows]


def _is_matrix(section: dict[str, Any]) -> bool:
    """Rows that all have the same scalar columns (e.g. p50/p95/p99 per route)."""
    values = list(section.values())
    if not values or not all(isinstance(v, dict) and v for v in values):
        return False
    keys = list(values[0])
    return all(list(v) == keys and not any(isinstance(x, dict) for x in v.values()) for v in values)


def _section(title: str, section: Any, depth: int) -> list[str]:
    out = [title, "=" * len(title)] if depth == 0 else [title, "-" * len(title)]
    if not isinstance(section, dict):
        return out + [_cell(section), ""]
    if _is_matrix(section):
        columns = list(next(iter(section.values())))
        rows = [[name, *(_cell(v[c]) for c in columns)] for name, v in section.items()]
        return out + _grid(rows, header=["", *columns]) + [""]
    scalars = [[name, _cell(v)] for name, v in section.items() if not isinstance(v, dict)]
    if scalars:
        out += _grid(scalars) + [""]
    for name, value in section.items():
        if isinstance(value, dict):
            out += _section(name if depth == 0 else f"{title} / {name}", value, depth + 1)
    return out


def render_tables(report: dict[str, Any]) -> str:
    """The report as plain-text tables, one section per top-level figure."""
    lines: list[str] = []
    for title, section in report.items():
        lines += _section(title, section, 0)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench")
    parser.add_argument("--layer-dir", type=Path, default=ROOT / ".aws-sam/build/CommonLayer")
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--import-runs", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=ROOT / ".bench", help="where report.json and bench.log go"
    )
    args = parser.parse_args(argv)

    import logging

    args.out.mkdir(parents=True, exist_ok=True)
    log_file = args.out / "bench.log"
    # The stack's and the functions' log lines go to the file: the tables end the output alone.
    logging.basicConfig(level=logging.INFO, filename=log_file, force=True)
    report: dict[str, Any] = {}
    # Functions run in this process and print their (powertools) log lines to stdout: into
    # the log file with the rest, so that stdout holds only the tables.
    with (
        open(log_file, "a", encoding="utf-8") as log_stream,
        contextlib.redirect_stdout(log_stream),
    ):
        _measure_all(args, report)
    (args.out / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(render_tables(report), end="")
    print(f"\n(full report: {args.out / 'report.json'}; log: {log_file})")
    return 0


def _measure_all(args: argparse.Namespace, report: dict[str, Any]) -> None:
    import logging

    report["import time, ms (median of fresh processes)"] = import_times(args.import_runs)
    report["layer"] = layer_report(args.layer_dir)
    # The bot's own layer (jieba, re2, openpyxl), built beside the common one.
    report["bot layer"] = layer_report(args.layer_dir.parent / "BotLayer")
    from infra.bench import routing

    report["routing and assignment"] = routing.report()
    from infra.bench import bot_turn

    report["bot turn"] = bot_turn.report()
    logging.getLogger("kefu.bench").info(
        "DynamoDB requests per bot turn: %s", report["bot turn"]["DynamoDB requests per bot turn"]
    )
    from infra.bench import keyword_rules

    report["keyword auto-reply rules"] = keyword_rules.report()
    from infra.bench import segments

    report["segments: 100,000 customers, 30 tags, a 5-condition filter"] = segments.report()
    from infra.bench import tagging

    report["tagging and bulk jobs"] = tagging.report()
    from infra.bench import customer_import

    report["customer import"] = customer_import.report()

    from infra.bench.pipeline import bench_stack

    with bench_stack() as stack:
        time.sleep(2)  # let the demo data's reply finish delivering
        aws_calls.LOG.clear()
        everything: list = []
        pipe = pipeline(stack)
        everything.extend(aws_calls.LOG.snapshot())
        report["DynamoDB per operation"] = pipe
        from infra.bench import pipeline as whole  # every function, in total

        report["DynamoDB requests per function: one message and its reply"] = whole.scenarios(stack)
        everything.extend(aws_calls.LOG.snapshot())
        from infra.bench.workbench import context_call

        report["workbench: conversation with context"] = context_call(stack)
        report["warm latency through the local gateway"] = latency(stack, args.latency_requests)
        everything.extend(aws_calls.LOG.snapshot())
        pipe["Scans in the whole run"] = sum(
            1 for c in everything if c.service == "dynamodb" and c.operation == "Scan"
        )


if __name__ == "__main__":
    raise SystemExit(main())
