"""Secrets (Secrets Manager), cached in the instance for a few minutes: a rotated secret is
picked up without a redeploy, and a warm request makes no call for it."""

from __future__ import annotations

import json
import time
from typing import Any

from kefu import caches
from kefu.aws import client

_TTL_SECONDS = 300
_cache: dict[str, tuple[float, str]] = {}


def secret_string(secret_id: str) -> str:
    hit = _cache.get(secret_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    _cache[secret_id] = (time.monotonic() + _TTL_SECONDS, value)
    return value


def secret_json(secret_id: str) -> dict[str, Any]:
    value = json.loads(secret_string(secret_id))
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return value


def clear_cache() -> None:
    _cache.clear()


caches.register("kefu.secrets", clear_cache)
