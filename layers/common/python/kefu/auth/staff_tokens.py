"""Staff tokens are Cognito access tokens, verified offline against the pool's JWKS.

The Cognito username is "<shop_id>:<username>", so one user pool serves every shop of a mall and
a token names exactly one shop. The role is read from the shop's staff record on each request,
so a role change or a disabled account takes effect at once.
"""

from __future__ import annotations

from functools import cache

import jwt

from kefu.auth.actors import StaffActor
from kefu.auth.permissions import PLATFORM_ROLE
from kefu.config import settings
from kefu.errors import Forbidden, Unauthorized, UpstreamUnavailable
from kefu.storage.shops import StaffMember

USERNAME_SEPARATOR = ":"


def cognito_username(shop_id: str, username: str) -> str:
    return f"{shop_id}{USERNAME_SEPARATOR}{username}"


@cache
def _jwks_client() -> jwt.PyJWKClient:
    # Keys are fetched once per instance and cached; an unknown kid triggers one refetch.
    return jwt.PyJWKClient(settings().cognito_jwks_url, cache_keys=True, lifespan=3600, timeout=5)


def verify_staff_token(token: str) -> StaffActor:
    shop_id, username = staff_identity(token)
    try:
        member = StaffMember.get(shop_id, StaffMember.key(username), consistent_read=True)
    except StaffMember.DoesNotExist:
        member = None
    return staff_actor_for(shop_id, username, member)


def staff_actor_for(shop_id: str, username: str, member: StaffMember | None) -> StaffActor:
    """The actor, once the staff record is read (callers may batch that read with their own)."""
    if member is None:
        raise Forbidden("staff account no longer exists", code="staff_not_found")
    if member.status != "active":
        raise Forbidden("staff account is disabled", code="staff_disabled")
    return StaffActor(shop_id=shop_id, username=username, role=member.role)


def acting_on(actor: StaffActor, shop_id: str) -> StaffActor:
    """The actor acting on `shop_id` (X-Kefu-Shop): their own shop as they are; another shop
    only for platform staff of a mall operator (the shop whose id is the mall id), and only a
    shop of that mall. A shop outside it is refused exactly as an unknown one is, so the
    answer does not tell whether it exists."""
    from kefu.shops import mall_of, operated_mall

    if shop_id == actor.shop_id:
        return actor
    if actor.role != PLATFORM_ROLE:
        raise Forbidden(
            "only a mall's platform staff may act on another shop (X-Kefu-Shop)",
            code="not_platform_staff",
        )
    mall = operated_mall(actor.shop_id)
    if mall is None:
        raise Forbidden(
            "platform staff act on other shops only from their mall's operator shop",
            code="not_platform_staff",
        )
    if mall_of(shop_id) != mall:
        raise Forbidden(f"shop {shop_id!r} is not a shop of your mall", code="shop_not_in_mall")
    return StaffActor(
        shop_id=shop_id,
        username=cognito_username(actor.shop_id, actor.username),
        role=actor.role,
        home_shop_id=actor.shop_id,
        mall_id=mall,
    )


def _check_looks_like_staff_token(token: str) -> None:
    """Say what is wrong in the caller's terms (not the JWT library's) when the token is not a
    staff access token at all. Nothing here is trusted: the signature is checked after."""
    from kefu.auth.customer_tokens import AUDIENCE as CUSTOMER_AUDIENCE

    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthorized(
            "the bearer token is not a JWT: send the access_token from /v1/staff/login",
            code="invalid_token",
        ) from None
    if claims.get("aud") == CUSTOMER_AUDIENCE:
        raise Unauthorized(
            "this endpoint needs a staff token; a customer token was given (staff sign in at "
            "/v1/staff/login)",
            code="invalid_token",
        )
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise Unauthorized(
            "this endpoint needs a staff access token from /v1/staff/login", code="invalid_token"
        )


def staff_identity(token: str) -> tuple[str, str]:
    """(shop_id, username) from a verified token, offline; the staff record is not read yet."""
    conf = settings()
    _check_looks_like_staff_token(token)
    try:
        signing_key = _jwks_client().get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as exc:
        raise UpstreamUnavailable(f"cannot fetch the user pool's keys: {exc}") from None
    except jwt.PyJWTError:
        raise Unauthorized(
            "this token was not signed by kefu's staff sign-in: sign in again at /v1/staff/login",
            code="invalid_token",
        ) from None
    try:
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=conf.cognito_issuer,
            options={"require": ["exp", "iat", "token_use", "username"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired: log in again", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized(
            "invalid staff token (its signature, issuer or claims do not check out): sign in "
            "again at /v1/staff/login",
            code="invalid_token",
        ) from None
    if claims.get("token_use") != "access":
        raise Unauthorized("send the access token, not the id token", code="invalid_token")
    if conf.user_pool_client_id and claims.get("client_id") != conf.user_pool_client_id:
        raise Unauthorized("token was issued to another app client", code="invalid_token")
    shop_id, sep, username = str(claims["username"]).partition(USERNAME_SEPARATOR)
    if not sep:
        raise Unauthorized("token does not belong to a kefu staff account", code="invalid_token")
    return shop_id, username
