"""What every HTTP function shares: errors as clear JSON 4xx, the caller's identity, bodies.

Errors look like {"error": {"code": "validation_error", "message": "...", "request_id": "..."}}:
the code is for programs, the message for the developer reading it.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from typing import Any, TypeVar

from chalice import Chalice, ChaliceUnhandledError, Response

from kefu.errors import KefuError, Unauthorized
from kefu.pagination import query_scope, set_query_scope
from kefu.validation import DEFAULT_MAX_BODY, check_query, decode_body

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


class _ViewFailed(ChaliceUnhandledError):
    """Carries a view's exception to the error middleware: Chalice turns any other exception
    raised in a view into its own bare 500 before middleware can see it."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


def _guarded(view: Any) -> Any:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Exception as exc:
            raise _ViewFailed(exc) from exc

    return guarded


def _common_shape(response: Response, request_id: str | None) -> Response:
    """Chalice's own errors (415 content type, 405, ...) in kefu's error shape."""
    body = response.body
    chalice_error = isinstance(body, dict) and set(body) == {"Code", "Message"}
    if response.status_code < 400 or not chalice_error:
        return response
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", str(body["Code"])).lower().removesuffix("_error")
    code = "internal_error" if name == "internal_server" else name
    extra = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    out = error_response(response.status_code, code, str(body["Message"]), request_id)
    out.headers.update(extra)
    return out


def install_error_handling(app: Chalice) -> None:
    """Call before the routes are declared: views registered from then on are guarded."""
    register_route = app.route

    def route(path: str, **kwargs: Any) -> Any:
        register = register_route(path, **kwargs)
        return lambda view: register(_guarded(view))

    app.route = route  # type: ignore[method-assign]

    @app.middleware("http")
    def _errors(event: Any, get_response: Any) -> Response:
        return _cors(_answer(app, event, get_response))


# API Gateway (proxy integration) answers only the preflight (template.yaml's Cors); the
# answer itself must carry these, or a browser on another origin (the H5 widget on a shop's
# page, the console) cannot read it. "*" is safe: credentials are bearer tokens, and with "*" a
# browser never sends cookies cross-origin (the console's refresh cookie stays same-site).
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Retry-After",
}


def _cors(response: Response) -> Response:
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _answer(app: Chalice, event: Any, get_response: Any) -> Response:
    try:
        _check_request(event)
        return _common_shape(get_response(event), _request_id(app))
    except Exception as raised:
        exc = raised.original if isinstance(raised, _ViewFailed) else raised
        if isinstance(exc, KefuError):
            out = error_response(exc.status, exc.code, exc.message, _request_id(app), **exc.details)
            out.headers.update(exc.headers)  # e.g. Retry-After on a 429
            return out
        # Never a stack trace to the caller; the log has it, keyed by request id.
        log.error("unhandled error", exc_info=exc)
        return error_response(
            500,
            "internal_error",
            "an internal error occurred; it has been logged",
            _request_id(app),
        )


def _check_request(event: Any) -> None:
    """What holds for every route before its view runs: the query parameters have values
    docs/openapi.yaml allows, and page cursors are tied to this request's query."""
    ctx = getattr(event, "context", None) or {}
    method = str(getattr(event, "method", "") or ctx.get("httpMethod") or "")
    route = str(ctx.get("resourcePath") or "")
    params = getattr(event, "query_params", None) or {}
    path_params = getattr(event, "uri_params", None) or {}
    set_query_scope(query_scope(method, route, path_params, params))
    check_query(method, route, params)


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


def acting_shop(app: Chalice) -> str | None:
    """The shop a staff request acts on when it names one (X-Kefu-Shop): platform staff
    choose one of their mall's shops per request; anyone else may only name their own."""
    value = (app.current_request.headers.get("x-kefu-shop") or "").strip()
    return value or None


def staff_actor(app: Chalice):  # noqa: ANN201 - returns StaffActor (import deferred)
    from kefu.auth.staff_tokens import acting_on, verify_staff_token

    actor = verify_staff_token(bearer_token(app))
    shop_id = acting_shop(app)
    return actor if shop_id is None else acting_on(actor, shop_id)


def staff_identity(app: Chalice) -> tuple[str, str]:
    """(shop_id, username) from the verified staff token, without reading the staff record:
    for handlers that read it together with their own items (kefu.auth.staff_tokens.
    staff_actor_for must then check it, as staff_actor does)."""
    from kefu.auth.staff_tokens import staff_identity as verify

    return verify(bearer_token(app))


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
