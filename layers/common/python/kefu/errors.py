"""Domain errors. Each carries the HTTP status and a machine-readable code, so handlers can
turn any of them into a clear 4xx without knowing the capability that raised it."""

from __future__ import annotations


class KefuError(Exception):
    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class BadRequest(KefuError):
    status = 400
    code = "bad_request"


class Unauthorized(KefuError):
    status = 401
    code = "unauthorized"


class Forbidden(KefuError):
    status = 403
    code = "forbidden"


class NotFound(KefuError):
    status = 404
    code = "not_found"


class Conflict(KefuError):
    status = 409
    code = "conflict"


class PayloadTooLarge(KefuError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(KefuError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(KefuError):
    status = 429
    code = "too_many_requests"


class RateLimited(TooManyRequests):
    """A kefu limit (kefu.limits) refused the request: says when to come back, in the body
    and in a Retry-After header."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, limit: int, window_seconds: int):
        super().__init__(
            message,
            details={
                "retry_after": retry_after,
                "limit": limit,
                "window_seconds": window_seconds,
            },
        )
        self.headers = {"Retry-After": str(retry_after)}


class UpstreamUnavailable(KefuError):
    """A dependency (WeChat, Cognito) failed in a way the caller may retry."""

    status = 503
    code = "upstream_unavailable"
