"""Building blocks for the bot's tests: a shop with the bot on, a published knowledge base,
orders, and customers writing as intake announces their messages to the bot."""

from __future__ import annotations

from typing import Any

import msgspec
from kefu import events
from kefu.auth.actors import StaffActor
from kefu.conversations.inbound import Received
from kefu.ids import now_ms
from kefu.storage.messages import Message, conversation_key
from kefu.storage.orders import LogisticsUpdate, Order, OrderLine, customer_key

from tests.support.factories import customer_says


def reset_bot_caches() -> None:
    from kefu.bot import keyword_rules_matcher, settings, snapshot
    from kefu.knowledge import published

    keyword_rules_matcher.clear_cache()
    settings.clear_cache()
    snapshot.clear_cache()
    published.clear_cache()


def enable_bot(sup: StaffActor, **fields: Any) -> dict:
    from kefu.bot import settings

    return settings.put_settings(
        sup, msgspec.convert({"enabled": True, **fields}, settings.BotSettings)
    )


def publish_kb(sup: StaffActor, entries: list[tuple[str, list[str], str]]) -> dict[str, str]:
    """(question, similar questions, answer) entries, published. Returns question -> entry id."""
    from infra.local.demo_data import publish_knowledge_base

    return publish_knowledge_base(sup, entries)


def message_event(received: Received, text: str | None = None, **data: Any) -> dict:
    """`message.received` as intake announces it for a shop whose bot is on."""
    content = data.pop("content", None) or {"text": text}
    return {
        "event_id": f"{events.MESSAGE_RECEIVED}:{received.message_id}",
        "type": events.MESSAGE_RECEIVED,
        "shop_id": received.shop_id,
        "occurred_at": int(received.msg_key.split("#", 1)[0]),
        "data": {
            "conversation_id": received.conversation_id,
            "message_id": received.message_id,
            "msg_key": received.msg_key,
            "customer_id": received.customer_id,
            "channel": data.pop("channel", "wechat_miniprogram"),
            "type": data.pop("type", "text"),
            "content": content,
            "new_conversation": received.new_conversation,
            "reopened": received.reopened,
            "bot": True,
            **data,
        },
    }


def ask(shop_id: str, openid: str, text: str, *, at: int | None = None) -> tuple[Received, dict]:
    """The customer writes; the bot takes its turn. Returns (intake's result, the turn's)."""
    from kefu.bot import turn

    received = customer_says(shop_id, openid, text, at=at, bot=True)
    return received, turn.handle(message_event(received, text))


def bot_messages(shop_id: str, conversation_id: str) -> list[Message]:
    return [
        m
        for m in Message.query(conversation_key(shop_id, conversation_id))
        if m.sender_type == "bot"
    ]


def bot_texts(shop_id: str, conversation_id: str) -> list[str]:
    return [m.content["text"] for m in bot_messages(shop_id, conversation_id)]


def place_order(
    shop_id: str,
    customer_id: str,
    order_id: str,
    status: str,
    *,
    placed_at: int | None = None,
    title: str = "连衣裙",
    carrier: str | None = None,
    tracking_number: str | None = None,
    logistics: list[tuple[str, str]] = (),
    refund_amount: str | None = None,
) -> None:
    """An order as the shop's back end reported it (POST /v1/shop-events stores this item)."""
    at = placed_at or now_ms()
    Order(
        customer_key(shop_id, customer_id),
        Order.key(order_id),
        shop_id=shop_id,
        customer_id=customer_id,
        order_id=order_id,
        shop_order=f"{shop_id}#{order_id}",
        status=status,
        amount="199.00",
        items=[OrderLine(product_id="p1", title=title, quantity=1, price="199.00")],
        carrier=carrier,
        tracking_number=tracking_number,
        logistics=[
            LogisticsUpdate(
                event_id=f"lg{i}",
                status="in_transit",
                description=d,
                location=loc,
                at=at + 1000 * (i + 1),
            )
            for i, (d, loc) in enumerate(logistics)
        ],
        refund_amount=refund_amount,
        placed_at=at,
        last_event_at=at,
        updated_at=at,
    ).save()
