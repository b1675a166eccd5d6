"""The workbench's figure: DynamoDB requests per conversation-with-context call
(GET /v1/workbench/conversations/{id}), through the local stack's gateway. Target: <= 6, no Scan.

The demo conversation of 小红 (assigned to agent1, with a reply and two orders) is read three
times after a warm-up; every botocore call the handler makes is counted in-process.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from infra.bench import aws_calls

# Calls the Lambda service makes for SQS event sources (pollers), not the handler's.
_EVENT_SOURCE = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueAttributes"}


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def context_call(stack: Any) -> dict[str, Any]:
    from infra.local import demo_data

    api = stack.api_url
    with aws_calls.LOG.unrecorded():
        agent = _call(
            "POST",
            f"{api}/v1/staff/login",
            {"shop_id": "demo", "username": "agent1", "password": demo_data.PASSWORD},
        )["access_token"]
        customer = _call("POST", f"{api}/v1/auth/wechat", {"shop_id": "demo", "code": "xiaohong"})
        conv = _call("GET", f"{api}/v1/messages", token=customer["token"])["conversation_id"]
    url = f"{api}/v1/workbench/conversations/{conv}"
    _call("GET", url, token=agent)  # warm: the function's first import and the JWKS fetch
    runs = []
    for _ in range(3):
        aws_calls.LOG.clear()
        ctx = _call("GET", url, token=agent)
        ddb = [
            c
            for c in aws_calls.LOG.snapshot()
            if c.service == "dynamodb" and c.operation not in _EVENT_SOURCE
        ]
        runs.append(ddb)
    last = runs[-1]
    return {
        "DynamoDB requests per conversation-with-context call (target <= 6)": [
            len(r) for r in runs
        ],
        "operations": sorted(c.operation for c in last),
        "Scans": sum(1 for r in runs for c in r if c.operation == "Scan"),
        "context returned": {
            "messages": len(ctx["messages"]["messages"]),
            "orders": len(ctx["orders"]),
            "open_tickets": len(ctx["open_tickets"]),
            "previous_conversations": len(ctx["previous_conversations"]),
        },
    }
