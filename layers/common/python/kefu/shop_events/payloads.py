"""The events a shop's back end sends, as msgspec structs: a tagged union on `type`, so a bad
event is answered with a 400 naming the field (`... - at $.events[3].order.amount`)."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from kefu.errors import BadRequest, PayloadTooLarge

MAX_BATCH = 25
MAX_BODY = 256 * 1024

EventId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
ExternalId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Yuan as a decimal string, as the message cards carry it: "79.00".
Money = Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}(\.\d{1,2})?$")]
# Epoch milliseconds; the bounds catch seconds sent by mistake (2001-09-09 .. 2286-11-20).
EpochMs = Annotated[int, msgspec.Meta(ge=1_000_000_000_000, le=9_999_999_999_999)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class CustomerRef(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Who the event is about: the shop's own user id, or the WeChat openid in this shop's
    mini-program. Exactly one."""

    app_user_id: ExternalId | None = None
    wechat_openid: ExternalId | None = None

    def __post_init__(self) -> None:
        if (self.app_user_id is None) == (self.wechat_openid is None):
            raise ValueError("give exactly one of `app_user_id`, `wechat_openid`")


class OrderItem(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    product_id: ShortText
    title: ShortText
    quantity: Quantity
    price: Money | None = None
    category: ShortText | None = None
    seller_shop_id: ShortText | None = None  # the merchant, in a multi-merchant mall


class OrderInfo(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    order_id: ShortText
    status: ShortText | None = None  # the shop's own label; kefu's status follows the event type
    amount: Money | None = None
    items: Annotated[list[OrderItem], msgspec.Meta(max_length=100)] | None = None
    created_at: EpochMs | None = None


class _Event(
    msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    event_id: EventId  # the idempotency key: an event sent twice is applied once
    occurred_at: EpochMs
    customer: CustomerRef


class _OrderEvent(_Event, kw_only=True):
    order: OrderInfo


class OrderCreated(_OrderEvent, tag="order.created"):
    pass


class OrderPaid(_OrderEvent, tag="order.paid"):
    pass


class OrderShipped(_OrderEvent, tag="order.shipped"):
    carrier: ShortText
    tracking_number: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class LogisticsUpdated(_OrderEvent, tag="logistics.updated"):
    status: ShortText  # the carrier's status: 运输中, 派送中, 已签收 ...
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    location: ShortText | None = None
    at: EpochMs | None = None  # when the carrier recorded it; defaults to occurred_at


class OrderDelivered(_OrderEvent, tag="order.delivered"):
    pass


class RefundRequested(_OrderEvent, tag="refund.requested"):
    refund_amount: Money | None = None
    reason: ShortText | None = None


class RefundApproved(_OrderEvent, tag="refund.approved"):
    refund_amount: Money | None = None


class OrderCancelled(_OrderEvent, tag="order.cancelled"):
    reason: ShortText | None = None


class _CartEvent(_Event, kw_only=True):
    product_id: ShortText
    title: ShortText
    price: Money | None = None
    quantity: Quantity = 1


class CartItemAdded(_CartEvent, tag="cart.item_added"):
    pass


class CartItemRemoved(_CartEvent, tag="cart.item_removed"):
    pass


class ProductViewed(_Event, tag="product.viewed"):
    product_id: ShortText
    title: ShortText
    category: ShortText | None = None
    price: Money | None = None


ShopEvent = (
    OrderCreated
    | OrderPaid
    | OrderShipped
    | LogisticsUpdated
    | OrderDelivered
    | RefundRequested
    | RefundApproved
    | OrderCancelled
    | CartItemAdded
    | CartItemRemoved
    | ProductViewed
)
ORDER_EVENTS = (
    OrderCreated,
    OrderPaid,
    OrderShipped,
    LogisticsUpdated,
    OrderDelivered,
    RefundRequested,
    RefundApproved,
    OrderCancelled,
)
EVENT_CLASSES = (*ORDER_EVENTS, CartItemAdded, CartItemRemoved, ProductViewed)
KNOWN_TYPES = tuple(cls.__struct_config__.tag for cls in EVENT_CLASSES)


class ShopEventBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[ShopEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class _Shape(msgspec.Struct):
    """Only tells a batch from a single event; every other field is skipped unparsed."""

    events: msgspec.Raw = msgspec.Raw()


def event_type(event: msgspec.Struct) -> str:
    return type(event).__struct_config__.tag  # type: ignore[return-value]


_INDEX = re.compile(r"\$\.events\[(\d+)\]")


def decode_events(raw: bytes | None) -> list[ShopEvent]:
    """One event, or a batch {"events": [...]} of at most 25, all valid or none accepted."""
    if raw is None or not raw.strip():
        raise BadRequest(
            'request body is empty: send an event or {"events": [...]}', code="empty_body"
        )
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {MAX_BODY}")
    try:
        shape = msgspec.json.decode(raw, type=_Shape)
        if len(shape.events):
            return list(msgspec.json.decode(raw, type=ShopEventBatch).events)
        return [msgspec.json.decode(raw, type=ShopEvent)]
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="malformed_json") from None


def _invalid(message: str) -> BadRequest:
    details: dict = {}
    found = _INDEX.search(message)
    if found:
        details["index"] = int(found.group(1))
        message = (
            f"event {found.group(1)} of the batch is invalid (nothing was accepted): {message}"
        )
    else:
        message = f"invalid event: {message}"
    if ".type`" in message or "field `type`" in message:
        message += f"; known types: {', '.join(KNOWN_TYPES)}"
    return BadRequest(message, code="validation_error", details=details)
