"""kefu's own customer tokens: short-lived HS256 JWTs minted after a channel login.

The signing key lives in Secrets Manager (CUSTOMER_TOKEN_SECRET_ARN); WeChat's session_key is
never part of a token and never leaves the server.
"""

from __future__ import annotations

import time

import jwt

from kefu.auth.actors import CustomerActor
from kefu.config import settings
from kefu.errors import Unauthorized
from kefu.secrets import secret_string

ISSUER = "kefu"
AUDIENCE = "kefu-customer"


def _key() -> str:
    return secret_string(settings().customer_token_secret_arn)


def issue_customer_token(actor: CustomerActor) -> tuple[str, int]:
    """Returns (token, expires_in seconds)."""
    ttl = settings().customer_token_ttl_seconds
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": actor.customer_id,
        "shop": actor.shop_id,
        "idk": actor.identity_kind,
        "idv": actor.external_id,
        "chn": actor.channel,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, _key(), algorithm="HS256"), ttl


def verify_customer_token(token: str) -> CustomerActor:
    try:
        claims = jwt.decode(
            token,
            _key(),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired: log in again", code="token_expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid customer token: {exc}", code="invalid_token") from None
    try:
        return CustomerActor(
            shop_id=claims["shop"],
            customer_id=claims["sub"],
            identity_kind=claims["idk"],
            external_id=claims["idv"],
            channel=claims["chn"],
        )
    except KeyError as exc:
        raise Unauthorized(f"customer token lacks claim {exc}", code="invalid_token") from None
