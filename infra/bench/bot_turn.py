"""DynamoDB requests per bot turn: `python -m infra.bench.bot_turn` (and `python -m infra.bench`).

Counted with infra/bench/aws_calls.py (every botocore call in the process) against in-process
moto holding template.yaml's tables: a shop with the bot on, a small published knowledge base,
a keyword rule, a customer with an order. Each case is one `message.received` handled by
kefu.bot.turn.handle, as the autoreply function handles it. Target: a warm turn answered from
the knowledge base or a keyword rule costs 2 requests (BatchGetItem + TransactWriteItems), no
Scan; an order question adds the Query of the customer's orders.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
if str(LAYER_PY) not in sys.path:
    sys.path.insert(0, str(LAYER_PY))

SHOP = "bench"


def _setup() -> dict[str, Any]:
    import msgspec
    from kefu.bot import keyword_rules, keyword_rules_admin, settings
    from kefu.storage.orders import Order, OrderLine, customer_key

    from infra.bench.moto_env import seed_shop
    from infra.local.demo_data import publish_knowledge_base

    sup = seed_shop(SHOP, {"sup": "supervisor"})["sup"]
    kb = [
        ("怎么退货", ["如何退货", "退货流程是什么"], "收到商品7天内可申请退货。"),
        ("发票怎么开", ["能开发票吗"], "下单时填写发票抬头即可。"),
        ("会员有什么权益", ["会员积分怎么用"], "会员可享95折。"),
    ]
    publish_knowledge_base(sup, kb)
    keyword_rules_admin.create_rule(
        sup,
        msgspec.convert(
            {
                "name": "包邮",
                "keywords": ["包邮"],
                "replies": [{"type": "text", "content": "{shop_name}全场包邮～"}],
            },
            keyword_rules.NewKeywordRule,
        ),
    )
    settings.put_settings(sup, settings.BotSettings(enabled=True, low_confidence="apologise"))
    return {"order": (Order, OrderLine, customer_key)}


def _turn(openid: str, text: str) -> tuple[Any, dict]:
    from kefu import events
    from kefu.ids import now_ms

    from infra.bench.moto_env import customer_message

    at = now_ms()
    received = customer_message(SHOP, openid, text, at=at, bot=True)
    detail = {
        "event_id": f"{events.MESSAGE_RECEIVED}:{received.message_id}",
        "type": events.MESSAGE_RECEIVED,
        "shop_id": SHOP,
        "occurred_at": at,
        "data": {
            "conversation_id": received.conversation_id,
            "message_id": received.message_id,
            "msg_key": received.msg_key,
            "customer_id": received.customer_id,
            "channel": "wechat_miniprogram",
            "type": "text",
            "content": {"text": text},
            "new_conversation": received.new_conversation,
            "reopened": False,
            "bot": True,
        },
    }
    return received, detail


def report() -> dict[str, Any]:
    from infra.bench import aws_calls
    from infra.bench.moto_env import moto_env

    aws_calls.install()
    out: dict[str, Any] = {}
    with moto_env():
        from kefu.bot import snapshot, turn

        _setup()
        snapshot.clear_cache()

        def count(openid: str, text: str, before: Any = None) -> dict[str, Any]:
            received, detail = _turn(openid, text)
            if before:
                before(received)
            aws_calls.LOG.clear()
            outcome = turn.handle(detail)
            calls = aws_calls.LOG.snapshot()
            others = Counter(f"{c.service}:{c.operation}" for c in calls if c.service != "dynamodb")
            return {
                "outcome": outcome.get("outcome"),
                **aws_calls.dynamodb_counts(calls),
                "other_aws_calls": dict(others),
            }

        def order(received: Any) -> None:
            from kefu.ids import now_ms
            from kefu.storage.orders import Order, OrderLine, customer_key

            at = now_ms()
            Order(
                customer_key(SHOP, received.customer_id),
                Order.key("SO-1"),
                shop_id=SHOP,
                customer_id=received.customer_id,
                order_id="SO-1",
                shop_order=f"{SHOP}#SO-1",
                status="shipped",
                items=[OrderLine(product_id="p", title="T恤", quantity=1)],
                carrier="顺丰",
                tracking_number="SF1",
                placed_at=at,
                last_event_at=at,
                updated_at=at,
            ).save()

        out["cold: knowledge-base answer (index from S3, entry read, rules compiled)"] = count(
            "c1", "如何退货"
        )
        warm = count("c2", "退货流程是什么")
        out["warm: knowledge-base answer — target 2"] = warm
        # The first rule reply of an instance reads the shop's name (cached a minute after).
        count("c3", "包邮吗")
        out["warm: keyword rule (variables from the cached shop profile)"] = count("c3b", "包邮吗")
        out["warm: no answer (apologise, miss logged)"] = count("c4", "量子纠缠的原理")
        out["warm: asks for a person (hand-off in the same transaction)"] = count("c5", "转人工")
        out["warm: order question (+ Query of the customer's orders)"] = count(
            "c6", "我的快递到哪了", before=order
        )
        out["DynamoDB requests per bot turn"] = warm["dynamodb_requests"]
    return out


def main() -> int:
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(report(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
