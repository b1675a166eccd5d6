"""Regenerate events/<function>/*.json: real events captured from the local stack.

    python -m infra.local.capture_events

Runs the README's walk-through (and a WeChat push, a delivery, a housekeeping run) against a
local stack and saves the first event each function received per route / trigger, so the
samples are exactly what API Gateway, SQS and the scheduler hand the functions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Values that differ per run or are secrets are replaced so the samples stay stable and safe.
_MASK_HEADERS = {"authorization": "Bearer <token>"}


def _name(event: dict[str, Any]) -> str:
    if "httpMethod" in event:
        resource = event["resource"].strip("/").replace("{", "").replace("}", "")
        name = f"{event['httpMethod'].lower()}_{re.sub(r'[^a-z0-9]+', '_', resource)}"
        if "push" in resource and event["httpMethod"] == "POST":
            query = event.get("queryStringParameters") or {}
            name += "_secure" if query.get("encrypt_type") == "aes" else "_plain"
        return name
    if event.get("Records") and event["Records"][0].get("eventSource") == "aws:sqs":
        return "sqs_batch"
    if event.get("detail-type") == "Scheduled Event":
        return "schedule"
    return "event"


def _scrub(event: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    for key in ("headers", "multiValueHeaders"):
        for header in list((event.get(key) or {}).keys()):
            if header.lower() in _MASK_HEADERS:
                masked = _MASK_HEADERS[header.lower()]
                event[key][header] = [masked] if key == "multiValueHeaders" else masked
    return event


def main() -> int:
    from kefu.channels.wechat.crypto import sha1_signature

    from infra.local import demo_data
    from infra.local.__main__ import demo_data_hook, wechat_standin_hook
    from infra.local.push import send_push, text_message
    from infra.local.stack import LocalStack
    from infra.local.wechat_standin import WeChatStandIn

    captured: dict[tuple[str, str], dict] = {}

    def recorder(stack: LocalStack) -> None:
        for fn in stack.functions.values():
            original = fn.invoke

            def invoke(event: Any, context: Any = None, _fn=fn, _orig=original) -> Any:  # noqa: ANN001
                folder = Path(_fn.code_dir).name
                captured.setdefault((folder, _name(event)), _scrub(event))
                return _orig(event, context)

            fn.invoke = invoke  # type: ignore[method-assign]

    hooks = [h for h in (wechat_standin_hook("127.0.0.1", 0), recorder, demo_data_hook()) if h]
    with LocalStack(
        ROOT / "template.yaml",
        port=0,
        moto_port=0,
        parameter_overrides={"Stage": "local"},
        before_start=hooks,
        schedules=False,
    ) as stack:
        from infra.bench.__main__ import _http

        api = stack.api_url
        _, login = _http("POST", f"{api}/v1/auth/wechat", {"shop_id": "demo", "code": "sample"})
        customer = login["token"]
        _http(
            "POST",
            f"{api}/v1/messages",
            {"type": "text", "text": "你好，我想问一下退货流程"},
            token=customer,
        )
        _http("GET", f"{api}/v1/messages", token=customer)
        _http(
            "POST",
            f"{api}/v1/media/uploads",
            {"content_type": "image/jpeg", "size": 204800},
            token=customer,
        )
        openid = WeChatStandIn.openid_for(demo_data.SHOPS[0]["appid"], "sample")
        send_push(api, "demo", text_message("demo", openid, "在吗", 7_000_000_001), secure=True)
        send_push(api, "demo", text_message("demo", openid, "有人吗", 7_000_000_002), fmt="xml")
        _, staff = _http(
            "POST",
            f"{api}/v1/staff/login",
            {"shop_id": "demo", "username": "owner", "password": demo_data.PASSWORD},
        )
        owner = staff["access_token"]
        _, page = _http("GET", f"{api}/v1/conversations?status=queued", token=owner)
        conv = page["conversations"][0]["conversation_id"]
        for method, path, body in (
            ("GET", f"/v1/conversations/{conv}", None),
            ("GET", f"/v1/conversations/{conv}/messages", None),
            ("POST", f"/v1/conversations/{conv}/assign", {"assignee": "agent1"}),
            ("POST", f"/v1/conversations/{conv}/replies", {"type": "text", "text": "您好～"}),
            ("POST", f"/v1/conversations/{conv}/resolve", None),
            ("POST", "/v1/staff/media/uploads", {"content_type": "image/png", "size": 1024}),
            ("GET", "/v1/staff/me", None),
            ("GET", "/v1/staff", None),
            (
                "POST",
                "/v1/staff",
                {"username": "agent9", "role": "agent", "password": "kefu-demo-999"},
            ),
            ("PATCH", "/v1/staff/agent9", {"role": "supervisor"}),
            ("GET", "/v1/audit", None),
        ):
            _http(method, f"{api}{path}", body, token=owner)
        _, q = _http("GET", f"{api}/v1/conversations?status=queued", token=owner)
        _http(
            "POST",
            f"{api}/v1/conversations/{q['conversations'][0]['conversation_id']}/claim",
            token=owner,
        )
        body = json.dumps(
            {"shop_id": "demo", "user_id": "alice", "timestamp": int(time.time()), "channel": "app"}
        ).encode()
        signature = hmac.new(demo_data.APP_LOGIN_KEY.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(
            f"{api}/v1/auth/app",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Kefu-Signature": signature},
        )
        urllib.request.urlopen(req, timeout=10).read()
        ts, nonce = str(int(time.time())), "1234567890"
        sig = sha1_signature(demo_data.PUSH_TOKEN, ts, nonce)
        urllib.request.urlopen(
            f"{api}/v1/wechat/demo/push?signature={sig}&timestamp={ts}&nonce={nonce}"
            "&echostr=4375120948345356249",
            timeout=10,
        ).read()
        time.sleep(3)  # the reply's delivery
        stack.fire_schedule("HousekeepingFunction")
    written = []
    for (folder, name), event in sorted(captured.items()):
        out = ROOT / "events" / folder / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(event, ensure_ascii=False, indent=2) + "\n")
        written.append(str(out.relative_to(ROOT)))
    print("\n".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
