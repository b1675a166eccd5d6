"""Opaque page cursors over DynamoDB's LastEvaluatedKey, so every list endpoint pages the same
way and a page costs one bounded Query.

A cursor is signed (HMAC-SHA256) over the key it carries, the shop and the query it was
returned for (method, route, path parameters and query parameters other than `cursor` and
`limit`): a forged or edited cursor, or one returned to another shop or for other filters, is
refused with 400 `invalid_cursor` before it reaches DynamoDB. The signing key is derived
(HKDF) from a Secrets Manager secret (CURSOR_SECRET_ARN, else the customer-token secret), served
from the instance's cache, so signing adds no AWS call to a warm request.

The query a cursor is tied to is set once per HTTP request (`kefu.http` does it); the shop is
the one `decode_cursor` is called with, which every list does before its Query, so the cursor
returned for the next page (`encode_cursor`, `take_page`) is signed for the same shop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TypeVar

from kefu.errors import BadRequest

T = TypeVar("T")

MAX_PAGE = 100
_INFO = b"kefu/page-cursor/v1"
_MAC_BYTES = 16  # 128 bits: forging one is out of reach, and cursors stay short
# Parameters that may change from page to page without making it another query.
PAGING_PARAMS = frozenset({"cursor", "limit"})

_query_scope: ContextVar[str] = ContextVar("kefu_cursor_query", default="")
_shop_scope: ContextVar[str | None] = ContextVar("kefu_cursor_shop", default=None)

INVALID = (
    "cursor is not one this API returned for this query: it was altered, or it was returned "
    "to another shop or for other filters; repeat the request without a cursor to start over"
)


def query_scope(
    method: str,
    route: str,
    path_params: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
) -> str:
    """What a cursor is tied to: the request (route, path and query parameters) without its
    paging parameters."""
    kept = sorted((k, v) for k, v in (params or {}).items() if k not in PAGING_PARAMS)
    path = sorted((path_params or {}).items())
    return json.dumps([method.upper(), route, path, kept], separators=(",", ":"))


def set_query_scope(scope: str) -> None:
    """Called at the start of each HTTP request (kefu.http)."""
    _query_scope.set(scope)
    _shop_scope.set(None)


@lru_cache(maxsize=4)
def _derive(material: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material.encode()
    )


def _signing_key() -> bytes:
    from kefu.config import env, settings
    from kefu.secrets import secret_string

    # A dedicated secret when the stack gives one (so listing functions need not read the
    # customer-token key); else the customer-token secret, which HKDF keeps apart from tokens.
    secret_id = env("CURSOR_SECRET_ARN") or settings().customer_token_secret_arn
    return _derive(secret_string(secret_id))


def _mac(payload: bytes, shop_id: str) -> bytes:
    message = b"\0".join((shop_id.encode(), _query_scope.get().encode(), payload))
    return hmac.new(_signing_key(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(key: dict[str, Any] | None, *, shop_id: str | None = None) -> str | None:
    """The cursor for `key`, signed for `shop_id` (default: the shop of this request's
    `decode_cursor`) and this request's query."""
    if not key:
        return None
    shop = shop_id if shop_id is not None else _shop_scope.get()
    if shop is None:
        raise RuntimeError("encode_cursor needs the shop: call decode_cursor first, or pass it")
    payload = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload, shop))}"


def decode_cursor(cursor: str | None, *, shop_id: str) -> dict[str, Any] | None:
    """The key of a cursor this API returned to this shop for this query (or None for the
    first page); anything else is a 400."""
    _shop_scope.set(shop_id)
    if not cursor:
        return None
    payload_text, dot, mac_text = cursor.partition(".")
    try:
        if not dot or len(cursor) > 4096:
            raise ValueError("not a cursor")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise BadRequest(INVALID, code="invalid_cursor") from None
    if not hmac.compare_digest(mac, _mac(payload, shop_id)):
        raise BadRequest(INVALID, code="invalid_cursor")
    try:
        key = json.loads(payload)
    except ValueError:  # signed by us, so unreachable unless the key leaked; still a 400
        raise BadRequest(INVALID, code="invalid_cursor") from None
    # Defence in depth, should the key ever leak: a key outside the shop's partitions.
    if not isinstance(key, dict) or not all(
        isinstance(v, dict) and len(v) == 1 for v in key.values()
    ):
        raise BadRequest(INVALID, code="invalid_cursor")
    values = [next(iter(v.values())) for v in key.values()]
    if not any(
        isinstance(v, str) and (v == shop_id or v.startswith(f"{shop_id}#")) for v in values
    ):
        raise BadRequest(INVALID, code="invalid_cursor")
    return key


def page_limit(raw: str | int | None, default: int = 50) -> int:
    if raw is None:
        return default
    if isinstance(raw, str):
        if raw.strip() == "":
            raise BadRequest(
                "limit is empty: give a number or leave the parameter out", code="invalid_limit"
            )
        try:
            raw = int(raw)
        except ValueError:
            raise BadRequest("limit must be an integer", code="invalid_limit") from None
    if not 1 <= raw <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    return raw


def take_page(results: Any, limit: int) -> tuple[list[Any], str | None]:
    """Drain a pynamodb ResultIterator queried with `limit` into (items, next cursor)."""
    items: Iterable[Any] = list(results)
    return list(items), encode_cursor(results.last_evaluated_key)
