"""Request bodies are decoded straight into typed structs (msgspec): one pass that parses JSON,
checks types and constraints, and names the offending field in its error."""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec

from kefu.errors import BadRequest, PayloadTooLarge

T = TypeVar("T")

DEFAULT_MAX_BODY = 64 * 1024

# Shared field shapes.
ShopId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
Username = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")]
Role = Annotated[str, msgspec.Meta(pattern=r"^(owner|supervisor|agent)$")]


def decode_body(body: bytes | None, type_: type[T], *, max_bytes: int = DEFAULT_MAX_BODY) -> T:
    if body is None or not body.strip():
        raise BadRequest("request body is empty: send a JSON object", code="empty_body")
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"request body is {len(body)} bytes; the limit is {max_bytes}")
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"invalid request body: {exc}", code="validation_error") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="malformed_json") from None


def to_builtins(value: object) -> object:
    return msgspec.to_builtins(value)
