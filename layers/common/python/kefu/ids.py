"""Identifiers: time-ordered so that keys built from them sort by creation."""

from __future__ import annotations

import secrets
import time


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(prefix: str, at_ms: int | None = None) -> str:
    """`<prefix>_<13-digit ms><10 hex>`: sortable by time, unguessable, URL-safe."""
    return f"{prefix}_{(at_ms if at_ms is not None else now_ms()):013d}{secrets.token_hex(5)}"


def iso(at_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms / 1000)) + f".{at_ms % 1000:03d}Z"
