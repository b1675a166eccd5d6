"""`python -m infra.bench.pipeline`: the DynamoDB requests of every function one customer message
and its agent's reply pass through (intake, routing, autoreply, notifier, outbound, and any
other consumer of their events), per function and in total, against the local stack.

The scenario is the common one: a customer writes in an open conversation that an agent holds,
the bot is off (demo's default), the agent replies and the reply is delivered. It is measured
twice: in a shop without auto-tag rules on messages (demo as seeded: its messages never reach the
tagging function), then after the owner adds a keyword rule the message does not match (the
tagging function reads the rules' revision: cold, as for a message more than a second after the
instance last read it; warm it costs nothing). Every request
made while the stack settles is counted and attributed to the function whose invocation made it
(infra.bench.aws_calls); requests outside any function (the benchmark's HTTP calls land in the
gateway's functions, so they are counted too) are shown as "-".
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from infra.bench import aws_calls

ROOT = Path(__file__).resolve().parents[2]
# Calls the Lambda service makes for an SQS event source, not the function: not kefu's cost.
EVENT_SOURCE_CALLS = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueAttributes"}
TOTAL = "TOTAL"
# The functions a customer message and its reply can pass through; shown even when they made
# no request in a scenario (routing acts on a reopened conversation, autoreply when the bot is on).
PIPELINE = ("Intake", "Routing", "Autoreply", "Tagging", "Notifier", "Conversations", "Outbound")


def _ddb() -> list[aws_calls.Call]:
    return [
        c
        for c in aws_calls.LOG.snapshot()
        if c.service == "dynamodb" and c.operation not in EVENT_SOURCE_CALLS
    ]


def _settle(quiet_s: float = 1.5, limit_s: float = 30.0) -> None:
    """Wait until no AWS call has been made for `quiet_s` (every consumer has finished)."""
    deadline = time.monotonic() + limit_s
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(aws_calls.LOG.snapshot())
        if n != seen:
            seen, quiet_since = n, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(0.1)


def _name(call: aws_calls.Call) -> str:
    return (call.function or "-").removesuffix("Function")


def per_function(calls: list[aws_calls.Call], also: list[str] | None = None) -> dict[str, int]:
    """DynamoDB requests per function (the pipeline's, then any other, then `also`'s: the same
    columns for every scenario), and their total."""
    counts = Counter(_name(c) for c in calls)
    out = {name: counts.get(name, 0) for name in PIPELINE}
    out.update({name: n for name, n in counts.most_common() if name not in out})
    out.update({name: 0 for name in also or [] if name not in out})
    out[TOTAL] = sum(counts.values())
    return out


def per_operation(calls: list[aws_calls.Call], tables: dict[str, str]) -> dict[str, str]:
    """Per function, its requests as "operation table x n" (where the figures come from)."""
    short = {name: key for key, name in tables.items()}
    ops: dict[str, Counter] = {}
    for c in calls:
        label = f"{c.operation} {'+'.join(sorted({short.get(t, t) for t in c.tables}))}"
        ops.setdefault(_name(c), Counter())[label] += 1
    return {
        name: ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counter.items())
        for name, counter in ops.items()
    }


def answered_by_agent(
    stack: Any, customer: str = "pipeline-customer", first_msg_id: int = 9_100_000_001
) -> dict[str, Any]:
    """One customer message in an open conversation held by an agent, and the agent's reply,
    through every function they reach: DynamoDB requests per function and the total."""
    from infra.bench.__main__ import _http
    from infra.local import demo_data
    from infra.local.push import send_push, text_message
    from infra.local.wechat_standin import WeChatStandIn

    api = stack.api_url
    tables = {
        k.removesuffix("_TABLE").lower(): v for k, v in stack.env.items() if k.endswith("_TABLE")
    }
    appid = demo_data.SHOPS[0]["appid"]
    openid = WeChatStandIn.openid_for(appid, customer)

    def push(text: str, msg_id: int) -> None:
        status, body = send_push(api, "demo", text_message("demo", openid, text, msg_id))
        assert (status, body) == (200, "success"), (status, body)

    _, login = _http(
        "POST",
        f"{api}/v1/staff/login",
        {"shop_id": "demo", "username": "agent1", "password": demo_data.PASSWORD},
    )
    agent = login["access_token"]
    # Set up, unmeasured: the customer's conversation, held by agent1.
    push("你好，想问问尺码", first_msg_id)
    _settle()
    with aws_calls.LOG.unrecorded():
        from kefu.customers import WECHAT_OPENID, Identity, find_identity

        identity = find_identity("demo", Identity(WECHAT_OPENID, openid))
        assert identity is not None, "the customer's message was not stored"
        conv_id = identity.open_conversation_id
        _http("POST", f"{api}/v1/conversations/{conv_id}/claim", token=agent)
    _settle()

    aws_calls.LOG.clear()
    push("M 码还有吗？", first_msg_id + 1)
    _settle()
    inbound = _ddb()
    aws_calls.LOG.clear()
    status, body = _http(
        "POST",
        f"{api}/v1/conversations/{conv_id}/replies",
        {"type": "text", "text": "有的～"},
        token=agent,
    )
    assert status == 201, body
    _settle()
    reply = _ddb()
    both = inbound + reply
    columns = list(per_function(both))[:-1]  # one grid: the same columns in every row
    return {
        "DynamoDB requests, per function and in total": {
            "customer message (intake and its consumers)": per_function(inbound, columns),
            "agent reply (request, delivery, consumers)": per_function(reply, columns),
            "customer message answered by an agent": per_function(both, columns),
        },
        "per function, per operation": per_operation(both, tables),
    }


def add_keyword_rule(stack: Any) -> None:
    """The owner adds a tag and a keyword auto-tag rule (退货) to demo, unmeasured."""
    from infra.bench.__main__ import _http
    from infra.local import demo_data

    api = stack.api_url
    with aws_calls.LOG.unrecorded():
        _, login = _http(
            "POST",
            f"{api}/v1/staff/login",
            {"shop_id": "demo", "username": "owner", "password": demo_data.PASSWORD},
        )
        owner = login["access_token"]
        status, tag = _http("POST", f"{api}/v1/tags", {"name": "想退货"}, token=owner)
        assert status == 201, tag
        rule = {
            "name": "退货意向",
            "trigger": {"kind": "keyword", "keywords": ["退货"]},
            "tag_ids": [tag["tag_id"]],
        }
        status, body = _http("POST", f"{api}/v1/tag-rules", rule, token=owner)
        assert status == 201, body
    _settle()


def scenarios(stack: Any) -> dict[str, Any]:
    """The message answered by an agent in a shop without auto-tag rules on messages, then in
    the same shop with a keyword rule (the tagging function's revision cold: the set-up message
    compiled the rules, and the measured one comes more than REVISION_TTL_S later)."""
    from kefu.tags.rules_admin import REVISION_TTL_S

    without = answered_by_agent(stack)
    add_keyword_rule(stack)
    with_rules = answered_by_agent(stack, "pipeline-customer-2", 9_100_000_011)
    return {
        "shop without auto-tag rules on messages": without,
        (
            f"shop with keyword auto-tag rules, revision cold (cached {REVISION_TTL_S:g} s per"
            " instance: 0 while warm)"
        ): with_rules,
    }


def bench_stack() -> Any:
    """The local stack with demo data, every AWS call counted and attributed to the function
    that made it, schedules off (they would add calls no message caused). Enter it with `with`."""
    aws_calls.install()
    from infra.local.__main__ import demo_data_hook, wechat_standin_hook
    from infra.local.stack import LocalStack

    def label_calls(stack: LocalStack) -> None:
        aws_calls.attribute_to_functions(stack.functions)

    hooks = [h for h in (label_calls, wechat_standin_hook("127.0.0.1", 0), demo_data_hook()) if h]
    return LocalStack(
        ROOT / "template.yaml",
        port=0,
        moto_port=0,
        parameter_overrides={"Stage": "local"},
        before_start=hooks,
        schedules=False,
    )


def run() -> dict[str, Any]:
    """Start the local stack (as `python -m infra.bench` does) and measure."""
    with bench_stack() as stack:
        _settle()
        return scenarios(stack)


def main() -> int:
    import contextlib
    import json
    import logging

    from infra.bench.__main__ import render_tables

    out = ROOT / ".bench"
    out.mkdir(parents=True, exist_ok=True)
    log_file = out / "pipeline.log"
    logging.basicConfig(level=logging.INFO, filename=log_file, force=True)
    with open(log_file, "a", encoding="utf-8") as stream, contextlib.redirect_stdout(stream):
        report = {"DynamoDB requests per function, one message through the pipeline": run()}
    (out / "pipeline.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(render_tables(report), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
