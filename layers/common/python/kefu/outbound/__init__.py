"""Outbound delivery: every reply reaches its channel, and its fate is recorded on the message.

A delivery is claimed with a conditional write first, so a repeated event (at-least-once
delivery) never sends twice. Outcomes:
  delivered      WeChat accepted it / the in-app client can read it
  undeliverable  WeChat refused for a reason a retry cannot fix (48-hour window, reply quota);
                 the reason is on the message for the agent to see
  retrying       a transient failure that certainly sent nothing (rate limit, WeChat busy, no
                 connection); the SQS message comes back after a back-off and, after the last
                 attempt, goes to the DLQ (alarmed)
  unknown        a send whose outcome is unknown (the answer timed out, or the instance died
                 after calling WeChat): WeChat's customer-service API has no idempotency key, so
                 kefu does not send again on its own; the agent sees it and may resend
                 (POST /v1/conversations/{id}/messages/{message_id}/resend). At most once,
                 never twice (docs/decisions.md).

The claim and the record of the call (`delivery_call_at`) are one conditional write, made just
before the call to WeChat (the access token and an image's upload come first: they send
nothing); the outcome is a second write, which clears it. A claim that finds it still set on a
stuck attempt knows that call's outcome was lost. An attempt that stops before its call leaves
nothing behind, so the next one claims the reply as if it were new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import msgspec
from pynamodb.exceptions import UpdateError
from urllib3.exceptions import ConnectTimeoutError

from kefu import caches, events
from kefu import events_catalog as contracts
from kefu.channels.wechat.api import (
    DEFAULT_TIMEOUT,
    WeChatApi,
    WeChatApiError,
    WeChatUnavailable,
)
from kefu.channels.wechat.tokens import access_token, refresh_after_rejection
from kefu.config import settings
from kefu.ids import now_ms
from kefu.shops import get_shop, wechat_credentials
from kefu.storage.messages import Message, conversation_key

CLAIMABLE = ("pending", "retrying", "failed")
# One reply's worst case (_send_wechat): access token, media upload, send; on a rejected
# token: refresh, upload, send again — each at the WeChat client's connect + read timeouts —
# plus DynamoDB/S3/EventBridge. The consumer starts a record only with this much time left.
WECHAT_CALLS_PER_REPLY = 6
OTHER_WORK_PER_REPLY_MS = 3_000
_CONNECT_S = cast(float, DEFAULT_TIMEOUT.connect_timeout)
_READ_S = cast(float, DEFAULT_TIMEOUT.read_timeout)
_CALL_MS = int((_CONNECT_S + _READ_S) * 1000)
RECORD_BUDGET_MS = WECHAT_CALLS_PER_REPLY * _CALL_MS + OTHER_WORK_PER_REPLY_MS
STUCK_SENDING_MS = 60_000  # an instance that died mid-send: let the next attempt take over

UNDELIVERABLE_REASONS = {
    45015: "the customer's 48-hour reply window has passed: WeChat accepts customer-service "
    "messages only within 48 hours of the customer's last message",
    45047: "WeChat's reply quota for this customer is used up: "
    "wait for the customer's next message",
    40003: "WeChat does not recognise the customer's openid for this mini-program",
    43004: "the customer has not followed or has blocked the account",
    48001: "the mini-program lacks the customer-service message permission",
}


class RetryLater(Exception):
    """Transient failure: leave the SQS message for another attempt (the consumer sets the
    back-off from the attempt number, backoff_seconds)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    status: str  # delivered | undeliverable | unknown | skipped
    reason: str | None = None


@cache
def wechat_api() -> WeChatApi:
    return WeChatApi(settings().wechat_api_base_url)


def backoff_seconds(attempt: int) -> int:
    """10 s, 40 s, 160 s, 640 s, then 900 s (SQS's visibility-timeout ceiling is far above)."""
    return min(10 * 4 ** max(attempt - 1, 0), 900)


def deliver_reply(
    detail: dict[str, Any] | events.Event, *, attempt: int, last_attempt: bool
) -> Delivery:
    event = events.decode(detail)
    if not isinstance(event.data, contracts.ReplyCreated):
        return Delivery("skipped", f"not a reply: {event.type}")
    shop_id, data = event.shop_id, event.data
    key = Message(conversation_key(shop_id, data.conversation_id), data.msg_key)
    this = _Attempt(key, shop_id, data)
    try:
        _send(shop_id, data, record_call=this.claim)
        this.claim()  # app / h5 made no call: claimed here, so "delivered" is recorded once
    except _NotClaimed as exc:
        return exc.delivery
    except RetryLater as exc:
        status = "failed" if last_attempt else "retrying"
        not_ours = this.finish(
            [
                Message.delivery_status.set(status),
                Message.delivery_error.set(exc.reason),
                Message.delivery_call_at.remove(),
            ]
        )
        if not_ours is not None:
            return not_ours
        raise
    except _OutcomeUnknown as exc:
        return _unknown(this.key, shop_id, data, exc.reason)
    except _Undeliverable as exc:
        not_ours = this.finish(
            [
                Message.delivery_status.set("undeliverable"),
                Message.delivery_error.set(exc.reason),
                Message.delivery_call_at.remove(),
            ]
        )
        if not_ours is not None:
            return not_ours
        _announce(shop_id, data, reason=exc.reason)
        return Delivery("undeliverable", exc.reason)
    this.finish(
        [
            Message.delivery_status.set("delivered"),
            Message.delivered_at.set(now_ms()),
            Message.delivery_error.remove(),
            Message.delivery_call_at.remove(),
        ]
    )
    _announce(shop_id, data)
    return Delivery("delivered")


class _NotClaimed(Exception):
    """The reply is delivered, being delivered, or its previous call's outcome was lost."""

    def __init__(self, delivery: Delivery):
        super().__init__(delivery.reason)
        self.delivery = delivery


class _Attempt:
    """One attempt at a reply. Nothing is written before the call to WeChat is about to be made
    (the access token, an image's upload send nothing to the customer); then one conditional
    write both claims the delivery and records the call (`delivery_call_at`), and one more
    records the outcome. An outcome known before any call (a definite failure, an
    undeliverable reply) is written with the claim's condition instead."""

    def __init__(self, key: Message, shop_id: str, data: contracts.ReplyCreated):
        self.key, self.shop_id, self.data = key, shop_id, data
        self.claimed = False

    def claim(self) -> None:
        """Claim and record the call, just before it (a second call after a token refresh is
        covered by the same record). Raises _NotClaimed when the reply is not this attempt's."""
        if self.claimed:
            return
        now = now_ms()
        if not self._take(
            [Message.delivery_status.set("sending"), Message.delivery_call_at.set(now)], now
        ):
            raise _NotClaimed(self._not_ours())
        self.claimed = True

    def finish(self, actions: list) -> Delivery | None:
        """Record the outcome; None when it was, else what became of the reply (not claimed)."""
        if self.claimed:
            self.key.update(actions=actions)
            return None
        return None if self._take(actions, now_ms()) else self._not_ours()

    def _take(self, actions: list, now: int) -> bool:
        """The conditional write: the reply waits for delivery (pending, retrying, failed) or a
        claim on it is stuck (an instance died) before its call was recorded."""
        try:
            self.key.update(
                actions=[
                    *actions,
                    Message.delivery_claimed_at.set(now),
                    Message.delivery_attempts.add(1),
                ],
                condition=Message.delivery_status.is_in(*CLAIMABLE)
                | (
                    (Message.delivery_status == "sending")
                    & (Message.delivery_claimed_at < now - STUCK_SENDING_MS)
                    & Message.delivery_call_at.does_not_exist()
                ),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _not_ours(self) -> Delivery:
        """Why the reply could not be claimed (one read, only then): a stuck claim whose call was
        recorded — that call's outcome was lost — is marked unknown, once; anything else is
        delivered or being delivered."""
        now = now_ms()
        stuck = (
            (Message.delivery_status == "sending")
            & (Message.delivery_claimed_at < now - STUCK_SENDING_MS)
            & Message.delivery_call_at.exists()
        )
        try:
            self.key.update(
                actions=[
                    Message.delivery_status.set("unknown"),
                    Message.delivery_error.set(LOST_OUTCOME),
                    Message.delivery_call_at.remove(),
                ],
                condition=stuck,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return Delivery("skipped", "already delivered or being delivered")
            raise
        # As _unknown: the agent's workbench shows it like an undeliverable reply.
        _announce(self.shop_id, self.data, reason=LOST_OUTCOME, delivery_status="unknown")
        return Delivery("unknown", LOST_OUTCOME)


LOST_OUTCOME = (
    "delivery unknown: a send to WeChat started but its outcome was lost; WeChat cannot say "
    "whether it arrived, so it was not sent again — check with the customer or resend it"
)


def _unknown(key: Message, shop_id: str, data: contracts.ReplyCreated, reason: str) -> Delivery:
    key.update(
        actions=[
            Message.delivery_status.set("unknown"),
            Message.delivery_error.set(reason),
            Message.delivery_call_at.remove(),
        ]
    )
    # The agent's workbench shows it like an undeliverable reply (the realtime rule forwards
    # this type): kefu will not deliver it on its own; `delivery_status` says why.
    _announce(shop_id, data, reason=reason, delivery_status="unknown")
    return Delivery("unknown", reason)


class _OutcomeUnknown(Exception):
    """WeChat may or may not have received the send (no answer after the request went out)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Undeliverable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _announce(
    shop_id: str,
    data: contracts.ReplyCreated,
    reason: str | None = None,
    delivery_status: str | None = None,
) -> None:
    """`message.undeliverable` with a reason, else `message.delivered`."""
    ids = {"conversation_id": data.conversation_id, "message_id": data.message_id}
    # The assignee as the reply carried it (when it did): the notifier tells them without
    # reading the conversation.
    payload: contracts.EventData = (
        contracts.MessageUndeliverable(
            **ids,
            channel=data.channel,
            reason=reason,
            delivery_status=delivery_status or msgspec.UNSET,
            assignee=data.assignee,
        )
        if reason
        else contracts.MessageDelivered(**ids, channel=data.channel, assignee=data.assignee)
    )
    events.publish(events.DomainEvent(payload, shop_id, f"{payload.TYPE}:{data.message_id}"))


def _send(shop_id: str, data: contracts.ReplyCreated, *, record_call: Callable[[], None]) -> None:
    if data.reply_to is None:  # no channel address: fails, and ends in the DLQ, as before
        raise ValueError(f"reply {data.message_id} has no reply_to")
    kind, _, external_id = data.reply_to.partition(":")
    if kind == "wechat_openid":
        _send_wechat(shop_id, external_id, data, record_call)
    # app / h5: the reply is stored, and the in-app client reads it from GET /v1/messages,
    # so storing it was the delivery.


def _send_wechat(
    shop_id: str, openid: str, data: contracts.ReplyCreated, record_call: Callable[[], None]
) -> None:
    shop = get_shop(shop_id)
    creds = wechat_credentials(shop)
    api = wechat_api()
    token = _token(access_token, shop_id, creds, api)
    for refreshed in (False, True):
        try:
            payload = _wechat_payload(api, token, openid, data)
        except WeChatUnavailable as exc:  # the image upload: nothing was sent to the customer
            raise RetryLater(f"WeChat unavailable: {exc}") from exc
        except WeChatApiError as exc:
            if exc.token_invalid and not refreshed:
                token = _token(refresh_after_rejection, shop_id, creds, api, token)
                continue
            raise _refusal(exc) from exc
        record_call()
        try:
            api.send_custom_message(token, payload)
            return
        except WeChatApiError as exc:
            # An answer: WeChat did not send it, so trying again is safe.
            if exc.token_invalid and not refreshed:
                token = _token(refresh_after_rejection, shop_id, creds, api, token)
                continue
            raise _refusal(exc) from exc
        except WeChatUnavailable as exc:
            if _maybe_sent(exc):
                raise _OutcomeUnknown(
                    f"delivery unknown: WeChat did not answer the send ({exc}); it may have "
                    "arrived, so it was not sent again — check with the customer or resend it"
                ) from exc
            raise RetryLater(f"WeChat unavailable: {exc}") from exc


def _refusal(exc: WeChatApiError) -> Exception:
    if exc.errcode in UNDELIVERABLE_REASONS:
        return _Undeliverable(f"{UNDELIVERABLE_REASONS[exc.errcode]} ({exc.errcode})")
    if exc.retryable or exc.token_invalid:
        return RetryLater(f"WeChat {exc.errcode}: {exc.errmsg}")
    return _Undeliverable(f"WeChat refused the message: {exc.errcode} {exc.errmsg}")


def _maybe_sent(exc: WeChatUnavailable) -> bool:
    """Whether WeChat may have received the request. Not when the connection was never made
    (refused, connect timeout, DNS) or when WeChat's front end answered 5xx (it handles the
    request only behind it, and answers its own failures as errcode -1 with HTTP 200)."""
    if exc.status is not None:
        return False
    return not isinstance(exc.__cause__, ConnectTimeoutError)


def _token(fetch: Callable[..., str], *args: Any) -> str:
    """An access token, or RetryLater: the token endpoint failing is as transient as sending."""
    try:
        return fetch(*args)
    except (WeChatApiError, WeChatUnavailable) as exc:
        raise RetryLater(f"cannot get a WeChat access token: {exc}") from exc


def _wechat_payload(api: WeChatApi, token: str, openid: str, data: contracts.ReplyCreated) -> dict:
    content = data.content or {}
    if data.type == "text":
        return {"touser": openid, "msgtype": "text", "text": {"content": content["text"]}}
    if data.type == "image" and content.get("media_id"):
        # A WeChat material id, as the bot's answers and keyword rules carry (no upload).
        return {"touser": openid, "msgtype": "image", "image": {"media_id": content["media_id"]}}
    if data.type == "image" and not content.get("media_key"):
        raise _Undeliverable("WeChat cannot send a picture by URL (in-app clients show it)")
    if data.type == "miniprogrampage":
        page = {k: content.get(k) for k in ("title", "pagepath", "thumb_media_id")}
        return {"touser": openid, "msgtype": "miniprogrampage", "miniprogrampage": page}
    if data.type == "image":
        from kefu.media import fetch

        body, content_type = fetch(content["media_key"])
        filename = content["media_key"].rsplit("/", 1)[-1]
        media_id = api.upload_temp_media(token, "image", filename, body, content_type)
        return {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}}
    raise _Undeliverable(f"WeChat cannot carry a {data.type} reply")


caches.register("kefu.outbound.wechat_api", wechat_api.cache_clear)
