"""The kinds of message a customer or an agent can send, validated on the way in."""

from __future__ import annotations

from typing import Annotated

import msgspec

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
MediaKey = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
ClientMessageId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2048)]


class _Base(
    msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    # Clients send it so that a retried send is stored once.
    client_message_id: ClientMessageId | None = None


class TextMessage(_Base, tag="text"):
    text: Text


class ImageMessage(_Base, tag="image"):
    media_key: MediaKey


class VoiceMessage(_Base, tag="voice"):
    media_key: MediaKey
    duration_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)]


class ProductCard(_Base, tag="product_card"):
    product_id: ShortText
    title: ShortText
    price: Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}(\.\d{1,2})?$")] | None = None
    image_url: Url | None = None
    page_path: ShortText | None = None
    category: ShortText | None = None


class OrderCard(_Base, tag="order_card"):
    order_id: ShortText
    title: ShortText | None = None
    status: ShortText | None = None
    amount: Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}(\.\d{1,2})?$")] | None = None
    page_path: ShortText | None = None


CustomerMessage = TextMessage | ImageMessage | VoiceMessage | ProductCard | OrderCard
# Agents reply with text or an image in this version.
AgentReply = TextMessage | ImageMessage


def message_type(message: msgspec.Struct) -> str:
    return type(message).__struct_config__.tag  # type: ignore[return-value]


def content_of(message: msgspec.Struct) -> dict:
    """The stored content: the message's fields without the envelope."""
    content = msgspec.to_builtins(message)
    content.pop("type", None)
    content.pop("client_message_id", None)
    return content


def preview(kind: str, content: dict) -> str:
    """What a conversation list shows for its last message."""
    if kind == "text":
        return content.get("text", "")[:80]
    labels = {
        "image": "[图片]",
        "voice": "[语音]",
        "product_card": "[商品] ",
        "order_card": "[订单] ",
        "event": "[事件]",
    }
    label = labels.get(kind, f"[{kind}]")
    return (label + (content.get("title") or content.get("order_id") or "")).strip()[:80]
