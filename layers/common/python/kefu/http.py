"""What every HTTP function shares: errors as clear JSON 4xx, the caller's identity, bodies.

Errors look like {"error": {"code": "validation_error", "message": "...", "request_id": "..."}}:
the code is for programs, the message for the developer reading it.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from chalice import Chalice, Response

from kefu.errors import KefuError, Unauthorized
from kefu.validation import DEFAULT_MAX_BODY, decode_body

T = TypeVar("T")
log = logging.getLogger("kefu")


def _request_id(app: Chalice) -> str | None:
    req = app.current_request
    ctx = getattr(req, "context", None) or {}
    return ctx.get("requestId")


def error_response(
    status: int, code: str, message: str, request_id: str | None, **extra
) -> Response:
    body = {"error": {"code": code, "message": message, "request_id": request_id, **extra}}
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        body=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def install_error_handling(app: Chalice) -> None:
    @app.middleware("http")
    def _errors(event: Any, get_response: Any) -> Response:
        try:
            return get_response(event)
        except KefuError as exc:
            return error_response(
                exc.status, exc.code, exc.message, _request_id(app), **exc.details
            )
        except Exception:
            # Never a stack trace to the caller; the log has it, keyed by request id.
            log.exception("unhandled error")
            return error_response(
                500,
                "internal_error",
                "an internal error occurred; it has been logged",
                _request_id(app),
            )


def bearer_token(app: Chalice) -> str:
    headers = app.current_request.headers
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send 'Authorization: Bearer <token>' (get one from /v1/auth/wechat or "
            "/v1/staff/login)",
            code="missing_token",
        )
    return token.strip()


def staff_actor(app: Chalice):  # noqa: ANN201 - returns StaffActor (import deferred)
    from kefu.auth.staff_tokens import verify_staff_token

    return verify_staff_token(bearer_token(app))


def customer_actor(app: Chalice):  # noqa: ANN201 - returns CustomerActor
    from kefu.auth.customer_tokens import verify_customer_token

    return verify_customer_token(bearer_token(app))


def body(app: Chalice, type_: type[T], *, max_bytes: int = DEFAULT_MAX_BODY) -> T:
    return decode_body(app.current_request.raw_body, type_, max_bytes=max_bytes)


def query(app: Chalice, name: str) -> str | None:
    params = app.current_request.query_params or {}
    value = params.get(name)
    return value if value not in (None, "") else None


def request_id(app: Chalice) -> str | None:
    return _request_id(app)
