"""Customer sign-in: a WeChat mini-program login code, or the shop's own server vouching for one
of its app/H5 users. Either way the customer gets a short-lived kefu token for this shop."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

import msgspec

from kefu.auth.actors import CustomerActor
from kefu.auth.customer_tokens import issue_customer_token
from kefu.customers import (
    APP_USER,
    PHONE_HASH,
    WECHAT_OPENID,
    WECHAT_UNIONID,
    Identity,
    link_identities,
    resolve_customer,
)
from kefu.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized, UpstreamUnavailable
from kefu.limits import count_login
from kefu.secrets import secret_string
from kefu.shops import get_shop, wechat_credentials
from kefu.validation import ShopId

SIGNATURE_WINDOW_SECONDS = 300


class WeChatLogin(msgspec.Struct, forbid_unknown_fields=True):
    shop_id: ShopId
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class AppLogin(msgspec.Struct, forbid_unknown_fields=True):
    shop_id: ShopId
    user_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
    timestamp: int
    channel: Annotated[str, msgspec.Meta(pattern=r"^(app|h5)$")] = "app"
    display_name: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    # Identities of the same person the shop's server vouches for (docs/customers.md "Identity
    # across channels"): their WeChat unionid, their phone number (kept only as a keyed hash).
    unionid: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,128}$")] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


def _token_response(actor: CustomerActor, unlinked: list[str] | None = None) -> dict:
    token, expires_in = issue_customer_token(actor)
    out = {
        "token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "customer_id": actor.customer_id,
        "shop_id": actor.shop_id,
    }
    if unlinked:
        out["unlinked"] = unlinked
    return out


def login_with_wechat(req: WeChatLogin) -> dict:
    from kefu.channels.wechat.api import WeChatApiError, WeChatUnavailable
    from kefu.outbound import wechat_api

    shop = get_shop(req.shop_id)
    creds = wechat_credentials(shop)
    # Before WeChat's call: a login code is only known to be good by spending that call.
    count_login(shop)
    try:
        session = wechat_api().jscode2session(creds.appid, creds.app_secret, req.code)
    except WeChatApiError as exc:
        if exc.bad_code:
            raise BadRequest(
                f"WeChat rejected the login code ({exc.errcode}): codes are single-use and "
                "expire after 5 minutes; call wx.login() again",
                code="invalid_code",
            ) from None
        if exc.errcode == 45011:
            raise TooManyRequests(
                "WeChat rate-limits this user's logins; retry in a minute"
            ) from None
        if exc.user_blocked:
            raise Forbidden("WeChat has blocked this user (40226)", code="user_blocked") from None
        raise UpstreamUnavailable(f"WeChat login failed: {exc.errcode} {exc.errmsg}") from None
    except WeChatUnavailable as exc:
        raise UpstreamUnavailable(f"WeChat is unreachable: {exc}") from None
    openid = session["openid"]
    unionid = session.get("unionid")
    # session_key stays here: it is never returned, logged or stored.
    identity = resolve_customer(
        req.shop_id,
        Identity(WECHAT_OPENID, openid),
        also=Identity(WECHAT_UNIONID, unionid) if unionid else None,
    )
    return _token_response(
        CustomerActor(
            req.shop_id, identity.customer_id, WECHAT_OPENID, openid, "wechat_miniprogram"
        )
    )


def login_app_user(raw_body: bytes, signature: str | None, req: AppLogin) -> dict:
    """The shop's server signs the body with its app-login key: hex HMAC-SHA256 in
    X-Kefu-Signature; the timestamp (epoch seconds) must be within 5 minutes, against replays."""
    shop = get_shop(req.shop_id)
    if not shop.app_login_secret_id:
        raise Forbidden("this shop has no app/H5 login configured", code="app_login_disabled")
    if not signature:
        raise Unauthorized("missing X-Kefu-Signature header", code="missing_signature")
    expected = hmac.new(
        secret_string(shop.app_login_secret_id).encode(), raw_body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Unauthorized("X-Kefu-Signature does not match the body", code="bad_signature")
    if abs(time.time() - req.timestamp) > SIGNATURE_WINDOW_SECONDS:
        raise Unauthorized("timestamp is outside the 5-minute window", code="stale_signature")
    # After the signature: forged requests cannot spend the shop's login budget.
    count_login(shop)
    links = _vouched_identities(req)
    # A new app user whose unionid (or phone) is already known joins that customer: an exact
    # identity the shop's server signed for, never a guess.
    identity = resolve_customer(
        req.shop_id,
        Identity(APP_USER, req.user_id),
        also=links[0] if links else None,
        display_name=req.display_name,
    )
    unlinked = link_identities(req.shop_id, identity.customer_id, links)
    return _token_response(
        CustomerActor(req.shop_id, identity.customer_id, APP_USER, req.user_id, req.channel),
        unlinked,
    )


def _vouched_identities(req: AppLogin) -> list[Identity]:
    links = []
    if req.unionid:
        links.append(Identity(WECHAT_UNIONID, req.unionid))
    if req.phone:
        from kefu.customers.crypto import lookup_hash
        from kefu.customers.fields import normalise_phone

        digest = lookup_hash(req.shop_id, "phone", normalise_phone(req.phone))
        links.append(Identity(PHONE_HASH, digest))
    return links
