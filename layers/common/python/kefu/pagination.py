"""Opaque page cursors over DynamoDB's LastEvaluatedKey, so every list endpoint pages the same
way and a page costs one bounded Query."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from kefu.errors import BadRequest

T = TypeVar("T")

MAX_PAGE = 100


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, shop_id: str) -> dict[str, Any] | None:
    """Decode and check that the cursor cannot lead into another shop's partition."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadRequest("cursor is not one this API returned", code="invalid_cursor") from exc
    if not isinstance(key, dict) or not all(
        isinstance(v, dict) and len(v) == 1 for v in key.values()
    ):
        raise BadRequest("cursor is not one this API returned", code="invalid_cursor")
    values = [next(iter(v.values())) for v in key.values()]
    if not any(
        isinstance(v, str) and (v == shop_id or v.startswith(f"{shop_id}#")) for v in values
    ):
        raise BadRequest("cursor belongs to another shop", code="invalid_cursor")
    return key


def page_limit(raw: str | None, default: int = 50) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("limit must be an integer", code="invalid_limit") from None
    if not 1 <= value <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    return value


def take_page(results: Any, limit: int) -> tuple[list[Any], str | None]:
    """Drain a pynamodb ResultIterator queried with `limit` into (items, next cursor)."""
    items: Iterable[Any] = list(results)
    return list(items), encode_cursor(results.last_evaluated_key)
