"""boto3 clients, created once per process and only when first used (cold start matters).

boto3 honours AWS_ENDPOINT_URL, which is how the local runner and tests point every client at
moto; nothing here knows about that.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from kefu import caches


@cache
def client(service: str) -> Any:
    import boto3  # deferred: only the functions that need a boto3 client pay for the import

    return boto3.session.Session().client(service)


caches.register("kefu.aws.client", client.cache_clear)
