"""Intake: a customer's message arrives (from the mini-program/app API or WeChat's push), is
authenticated, stored once, appended to the conversation, and announced as `message.received`.
Nothing slow happens here: WeChat waits 5 s for an answer, then pushes the message again."""

from __future__ import annotations

from kefu import events
from kefu.auth.actors import CustomerActor
from kefu.conversations.content import CustomerMessage, content_of, message_type
from kefu.conversations.inbound import InboundMessage, Received, receive_customer_message
from kefu.customers import WECHAT_OPENID, Identity, find_identity, resolve_customer
from kefu.errors import NotFound
from kefu.ids import now_ms
from kefu.limits import message_window
from kefu.media import check_media_key
from kefu.shops import get_shop, wechat_credentials


def _announce(received: Received, msg: InboundMessage) -> None:
    data = {
        "conversation_id": received.conversation_id,
        "message_id": received.message_id,
        "msg_key": received.msg_key,
        "customer_id": received.customer_id,
        "channel": msg.channel,
        "type": msg.type,
        "content": msg.content,
        "new_conversation": received.new_conversation,
        "reopened": received.reopened,
        # The shop's bot is on: the autoreply function's rule selects these (docs/bot.md).
        "bot": msg.bot,
    }
    published = [
        events.DomainEvent(
            events.MESSAGE_RECEIVED,
            msg.shop_id,
            f"{events.MESSAGE_RECEIVED}:{received.message_id}",
            data,
            occurred_at=msg.received_at,
        )
    ]
    if received.new_conversation:
        published.append(
            events.DomainEvent(
                events.CONVERSATION_OPENED,
                msg.shop_id,
                f"{events.CONVERSATION_OPENED}:{received.conversation_id}",
                {
                    "conversation_id": received.conversation_id,
                    "customer_id": received.customer_id,
                    "channel": msg.channel,
                    "queue": msg.default_queue,
                    # "bot": the bot answers first; routing waits for `handoff.requested`.
                    "status": "bot" if msg.bot else "queued",
                    # What routing's rules read (keywords, card category / seller shop).
                    "type": msg.type,
                    "content": msg.content,
                },
                occurred_at=msg.received_at,
            )
        )
    # A duplicate re-publishes the same events (same ids): if the first attempt stored the
    # message but failed to publish, the retry completes it; consumers drop true repeats.
    events.publish(*published)


def receive_from_client(actor: CustomerActor, message: CustomerMessage) -> Received:
    """A message sent through kefu's own API (mini-program, H5 or app client)."""
    shop = get_shop(actor.shop_id)
    at = now_ms()
    # Refused here, before any request, when this instance already saw the window full.
    limit = message_window(shop, actor.customer_id, at)
    kind = message_type(message)
    content = content_of(message)
    if "media_key" in content:
        check_media_key(actor.shop_id, f"customers/{actor.customer_id}", content["media_key"])
    identity = find_identity(actor.shop_id, Identity(actor.identity_kind, actor.external_id))
    if identity is None or identity.customer_id != actor.customer_id:
        raise NotFound("customer no longer exists: log in again", code="customer_not_found")
    # Without a client id every send is new; with one, a retried send is stored once.
    dedupe = f"client:{actor.customer_id}:{message.client_message_id or at}"
    msg = InboundMessage(
        shop_id=actor.shop_id,
        channel=actor.channel,
        identity=identity,
        reply_to=f"{actor.identity_kind}:{actor.external_id}",
        type=kind,
        content=content,
        dedupe_key=dedupe,
        received_at=at,
        channel_message_id=message.client_message_id,
        default_queue=shop.default_queue,
        bot=bool(shop.bot_enabled),
        limit=limit,
    )
    received = receive_customer_message(msg)
    _announce(received, msg)
    return received


def verify_wechat_url(shop_id: str, query: dict[str, str]) -> str:
    from kefu.channels.wechat.push import verify_url

    creds = wechat_credentials(get_shop(shop_id))
    return verify_url(query, token=creds.token)


def receive_wechat_push(
    shop_id: str, query: dict[str, str], body: bytes, content_type: str | None
) -> Received | None:
    """Authenticate and store one push. Returns None for pushes that are not customer messages
    (they are acknowledged and announced, but start no conversation)."""
    from kefu.channels.wechat.push import open_push

    shop = get_shop(shop_id)
    creds = wechat_credentials(shop)
    push = open_push(
        query,
        body,
        content_type,
        token=creds.token,
        encoding_aes_key=creds.encoding_aes_key,
        appid=creds.appid,
    )
    at = now_ms()
    if push.msg_type == "event":
        if push.event == "user_enter_tempsession":
            identity = resolve_customer(shop_id, Identity(WECHAT_OPENID, push.from_user))
            events.publish(
                events.DomainEvent(
                    events.CUSTOMER_ENTERED_SESSION,
                    shop_id,
                    f"{events.CUSTOMER_ENTERED_SESSION}:{push.dedupe_key}",
                    {
                        "customer_id": identity.customer_id,
                        "session_from": push.session_from,
                        "channel": "wechat_miniprogram",
                    },
                    occurred_at=push.create_time * 1000,
                )
            )
        return None
    identity = resolve_customer(shop_id, Identity(WECHAT_OPENID, push.from_user))
    kind, content = _wechat_content(push.msg_type, push.content)
    msg = InboundMessage(
        shop_id=shop_id,
        channel="wechat_miniprogram",
        identity=identity,
        reply_to=f"{WECHAT_OPENID}:{push.from_user}",
        type=kind,
        content=content,
        dedupe_key=push.dedupe_key,
        received_at=at,
        channel_message_id=push.msg_id,
        default_queue=shop.default_queue,
        bot=bool(shop.bot_enabled),
    )
    received = receive_customer_message(msg)
    _announce(received, msg)
    return received


def _wechat_content(msg_type: str, content: dict) -> tuple[str, dict]:
    """WeChat's message kinds, in kefu's vocabulary."""
    if msg_type == "text":
        return "text", {"text": content.get("text", "")}
    if msg_type == "image":
        return "image", {k: v for k, v in content.items() if v}
    if msg_type == "miniprogrampage":
        return "product_card", {
            "product_id": content.get("page_path") or "",
            "title": content.get("title") or "",
            "page_path": content.get("page_path"),
            "image_url": content.get("thumb_url"),
            "wechat": {k: v for k, v in content.items() if v},
        }
    return msg_type, dict(content)
