"""Request bodies are decoded straight into typed structs (msgspec): one pass that parses JSON,
checks types and constraints, and names the offending field in its error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

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
    except UnicodeDecodeError:
        # JSON is UTF-8 (RFC 8259); msgspec reports other bytes in a string this way.
        raise BadRequest("request body is not UTF-8 text", code="malformed_json") from None


def to_builtins(value: object) -> object:
    return msgspec.to_builtins(value)


# --- query parameters ------------------------------------------------------------------------
#
# docs/openapi.yaml declares each operation's query parameters; those with checkable values (an
# enum, an integer with bounds, a boolean) are generated into query_params.json (python -m
# infra.openapi --write) and every HTTP request is checked against them (kefu.http), before its
# view runs. So a value outside the documented enum, "null" for a boolean or an empty `limit=`
# is a 400 `invalid_<parameter>`, on every route alike; free-text parameters are the views'.
# Parameters an operation does not declare are ignored (cache busters, tracking tags).

_RULES_FILE = Path(__file__).with_name("query_params.json")


@cache
def _rules() -> dict[str, dict[str, dict[str, Any]]]:
    return json.loads(_RULES_FILE.read_text(encoding="utf-8"))


@cache
def _param_type(schema_json: str) -> tuple[Any, str]:
    """(msgspec type, what a value must be) for one parameter's schema."""
    schema = json.loads(schema_json)
    if "enum" in schema:
        values = tuple(schema["enum"])
        return Literal[values], "one of " + ", ".join(str(v) for v in values)  # type: ignore[valid-type]
    if schema.get("type") == "boolean":
        return bool, "true or false"
    bounds = {k: schema[k] for k in ("minimum", "maximum") if k in schema}
    meta = msgspec.Meta(ge=bounds.get("minimum"), le=bounds.get("maximum"))
    expected = "an integer"
    if bounds:
        low, high = bounds.get("minimum", "…"), bounds.get("maximum", "…")
        expected = f"an integer from {low} to {high}"
    return Annotated[int, meta], expected


def check_query(method: str, route: str, params: Mapping[str, str] | None) -> None:
    """Raise BadRequest if a declared query parameter of `METHOD route` has a value its
    documented schema does not allow."""
    declared = _rules().get(f"{method.upper()} {route}")
    if not declared or not params:
        return
    for name, schema in declared.items():
        if name not in params:
            continue
        raw = params[name]
        type_, expected = _param_type(json.dumps(schema, sort_keys=True))
        if raw.strip() == "":
            raise BadRequest(
                f"query parameter {name} is empty: give {expected}, or leave it out",
                code=f"invalid_{name}",
            )
        try:
            msgspec.convert(raw, type_, strict=False)
        except msgspec.ValidationError:
            raise BadRequest(
                f"query parameter {name}={raw[:64]!r} is not valid: it must be {expected}",
                code=f"invalid_{name}",
            ) from None
