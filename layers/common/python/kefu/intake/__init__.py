"""Intake: a customer's message arrives (from the mini-program/app API or WeChat's push), is
authenticated, stored once, appended to the conversation, and announced as `message.received`.
Nothing slow happens here: WeChat waits 5 s for an answer, then pushes the message again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kefu import events
from kefu import events_catalog as contracts
from kefu.auth.actors import CustomerActor
from kefu.conversations.content import CustomerMessage, content_of, message_type
from kefu.conversations.inbound import (
    InboundMessage,
    Received,
    Replayed,
    ReplayGuard,
    claim_replay_guard,
    receive_customer_message,
)
from kefu.customers import WECHAT_OPENID, Identity, find_identity, resolve_customer
from kefu.errors import NotFound
from kefu.ids import now_ms
from kefu.limits import message_window
from kefu.media import check_media_key
from kefu.shops import get_shop, wechat_credentials
from kefu.storage.runtime import PushNonce

if TYPE_CHECKING:
    from kefu.channels.wechat.push import InboundPush, PushRejected

log = logging.getLogger("kefu.intake")

# The metric every refused push counts in (CloudWatch EMF via Powertools), by reason code.
METRICS_NAMESPACE = "kefu"
PUSH_REFUSED_METRIC = "WeChatPushRefused"
# A push's (timestamp, nonce) must be remembered while its timestamp is still acceptable.
_GUARD_MARGIN_SECONDS = 60


def _announce(received: Received, msg: InboundMessage) -> None:
    data = contracts.MessageReceived(
        conversation_id=received.conversation_id,
        message_id=received.message_id,
        msg_key=received.msg_key,
        customer_id=received.customer_id,
        channel=msg.channel,
        type=msg.type,
        content=msg.content,
        new_conversation=received.new_conversation,
        reopened=received.reopened,
        # The shop's bot is on: the autoreply function's rule selects these (docs/bot.md).
        bot=msg.bot,
        # The shop has auto-tag rules on messages: the tagging function's rule selects these.
        tagging=msg.tagging,
    )
    published = [
        events.DomainEvent(
            data,
            msg.shop_id,
            f"{events.MESSAGE_RECEIVED}:{received.message_id}",
            occurred_at=msg.received_at,
        )
    ]
    if received.new_conversation:
        published.append(
            events.DomainEvent(
                contracts.ConversationOpened(
                    conversation_id=received.conversation_id,
                    customer_id=received.customer_id,
                    channel=msg.channel,
                    queue=msg.default_queue,
                    # "bot": the bot answers first; routing waits for `handoff.requested`.
                    status="bot" if msg.bot else "queued",
                    # What routing's rules read (keywords, card category / seller shop).
                    type=msg.type,
                    content=msg.content,
                ),
                msg.shop_id,
                f"{events.CONVERSATION_OPENED}:{received.conversation_id}",
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
    msg = InboundMessage.from_shop(
        shop,
        channel=actor.channel,
        identity=identity,
        sender=Identity(actor.identity_kind, actor.external_id),
        kind=kind,
        content=content,
        dedupe_key=dedupe,
        received_at=at,
        channel_message_id=message.client_message_id,
        limit=limit,
    )
    received = receive_customer_message(msg)
    _announce(received, msg)
    return received


def verify_wechat_url(shop_id: str, query: dict[str, str]) -> str:
    from kefu.channels.wechat.push import PushRejected, verify_url

    creds = wechat_credentials(get_shop(shop_id))
    try:
        return verify_url(query, token=creds.token)
    except PushRejected as exc:
        record_refused_push(shop_id, exc)
        raise


def receive_wechat_push(
    shop_id: str, query: dict[str, str], body: bytes, content_type: str | None
) -> Received | None:
    """Authenticate and store one push. Returns None for pushes that are not customer messages
    (they are acknowledged and announced, but start no conversation).

    Refused (PushRejected, logged and counted, nothing stored): a push not in the shop's push
    mode, a bad signature, a timestamp more than 300 s from now, and a (timestamp, nonce) already
    used for another message. The same push again — WeChat's retry — is not a replay: it is
    acknowledged, stored once, its events re-published (docs/decisions.md)."""
    from kefu.channels.wechat.push import PushRejected

    try:
        return _receive_wechat_push(shop_id, query, body, content_type)
    except Replayed:
        exc = PushRejected(
            401,
            "replayed_nonce",
            "this timestamp and nonce were already used for a different push: refused as a replay",
        )
        record_refused_push(shop_id, exc)
        raise exc from None
    except PushRejected as exc:
        record_refused_push(shop_id, exc)
        raise


def record_refused_push(shop_id: str, exc: PushRejected) -> None:
    """Log and count a refused push (never store it): the reason code is the metric's only
    dimension, so the metric stays cheap however many shops there are; the shop is in the log."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    log.warning(
        "wechat push refused: reason=%s status=%s shop=%s",
        exc.reason,
        exc.status,
        shop_id,
        extra={"shop_id": shop_id, "reason": exc.reason, "status": exc.status},
    )
    with single_metric(
        name=PUSH_REFUSED_METRIC, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="reason", value=exc.reason)


def _replay_guard(shop_id: str, push: InboundPush) -> ReplayGuard:
    from kefu.channels.wechat.push import MAX_CLOCK_SKEW_SECONDS

    return ReplayGuard(
        key=PushNonce.key(shop_id, push.timestamp, push.nonce),
        digest=push.digest,
        expires_at=push.timestamp + MAX_CLOCK_SKEW_SECONDS + _GUARD_MARGIN_SECONDS,
    )


def _receive_wechat_push(
    shop_id: str, query: dict[str, str], body: bytes, content_type: str | None
) -> Received | None:
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
        mode=shop.wechat_push_mode,
    )
    guard = _replay_guard(shop_id, push)
    at = now_ms()
    if push.msg_type == "event":
        # Events store nothing through a message transaction: the guard is written alone.
        claim_replay_guard(guard)
        if push.event == "user_enter_tempsession":
            identity = resolve_customer(shop_id, Identity(WECHAT_OPENID, push.from_user))
            events.publish(
                events.DomainEvent(
                    contracts.CustomerEnteredSession(
                        customer_id=identity.customer_id,
                        session_from=push.session_from,
                        channel="wechat_miniprogram",
                    ),
                    shop_id,
                    f"{events.CUSTOMER_ENTERED_SESSION}:{push.dedupe_key}",
                    occurred_at=push.create_time * 1000,
                )
            )
        return None
    wechat_user = Identity(WECHAT_OPENID, push.from_user)
    identity = find_identity(shop_id, wechat_user)
    if identity is None:
        # First contact creates the customer before the message's transaction: claim the
        # guard first, so a replayed push cannot create customers either.
        claim_replay_guard(guard)
        identity = resolve_customer(shop_id, wechat_user)
    kind, content = _wechat_content(push.msg_type, push.content)
    msg = InboundMessage.from_shop(
        shop,
        channel="wechat_miniprogram",
        identity=identity,
        sender=wechat_user,
        kind=kind,
        content=content,
        dedupe_key=push.dedupe_key,
        received_at=at,
        channel_message_id=push.msg_id,
        replay_guard=guard,
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
