"""The shop's back end signs each request to POST /v1/shop-events with its shop-events key:

    X-Kefu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

The timestamp is inside the MAC, so it cannot be changed without the key; requests more than five
minutes from kefu's clock are refused. A body replayed inside the window is covered by the events'
own ids: each is applied once (docs/shop-events.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from kefu.errors import Unauthorized

WINDOW_SECONDS = 300
HEADER = "X-Kefu-Signature"
_HEX = re.compile(r"[0-9a-f]{64}")


def sign(key: str, raw_body: bytes, timestamp: int | None = None) -> str:
    """The header value for `raw_body` (what the shop's back end computes; tests use it too)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(key.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def parse(header: str | None) -> tuple[int, list[str]]:
    """(timestamp, [v1 signatures]) from the header; several v1 values allow a key rotation."""
    if not header or not header.strip():
        raise Unauthorized(f"missing {HEADER} header", code="missing_signature")
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and _HEX.fullmatch(value.strip().lower()):
            macs.append(value.strip().lower())
    if timestamp is None or not macs:
        raise Unauthorized(
            f"{HEADER} must look like t=<unix seconds>,v1=<hex HMAC-SHA256>",
            code="malformed_signature",
        )
    return timestamp, macs


def verify(key: str, raw_body: bytes, header: str | None, *, now: float | None = None) -> None:
    timestamp, macs = parse(header)
    expected = hmac.new(
        key.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, mac) for mac in macs):
        raise Unauthorized(
            f"{HEADER} does not match: sign '<t>.<raw body>' with the shop's shop-events key",
            code="bad_signature",
        )
    now = time.time() if now is None else now
    if abs(now - timestamp) > WINDOW_SECONDS:
        raise Unauthorized(
            f"signature timestamp is {int(now - timestamp)} s from kefu's clock; "
            f"the limit is {WINDOW_SECONDS} s",
            code="stale_signature",
        )
