"""Frames to open WebSocket connections through the API Gateway Management API.

The endpoint is WEBSOCKET_CALLBACK_URL (https://<api>.execute-api.<region>.amazonaws.com/<stage>;
the local runner points it at its own Management API). A connection that answers 410 Gone is
closed: its item is deleted so nobody pushes to it again.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from functools import cache
from typing import Any

from kefu import caches
from kefu.storage.connections import Connection

log = logging.getLogger("kefu.realtime")


@cache
def management_api() -> Any:
    import boto3  # deferred: only pushing code pays for it
    from botocore.config import Config

    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=os.environ["WEBSOCKET_CALLBACK_URL"],
        # A slow socket must not hold a whole batch: fail fast, the frame is best effort.
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
    )


def frame(kind: str, data: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps(
        {"type": kind, **extra, "data": data}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def send(connection_id: str, payload: bytes) -> bool:
    """Post one frame; False (and the connection item deleted) when the socket is gone."""
    from botocore.exceptions import ClientError

    try:
        management_api().post_to_connection(ConnectionId=connection_id, Data=payload)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "GoneException" or status == 410:
            forget(connection_id)
            return False
        raise
    return True


def forget(connection_id: str) -> None:
    try:
        Connection(connection_id).delete()
    except Exception:
        log.warning("could not delete gone connection %s", connection_id, exc_info=True)


def connections_of(
    subscribers: Iterable[str], known: dict[str, list[str]] | None = None
) -> list[str]:
    """Connection ids of every socket of these subscribers (one index Query each, unless
    `known` — a batch's cache, subscriber -> ids — has them already; it is filled in)."""
    ids: list[str] = []
    for subscriber in dict.fromkeys(subscribers):
        found = known.get(subscriber) if known is not None else None
        if found is None:
            found = [c.connection_id for c in Connection.by_subscriber.query(subscriber)]
            if known is not None:
                known[subscriber] = found
        ids.extend(found)
    return list(dict.fromkeys(ids))


def broadcast(
    subscribers: Iterable[str], payload: bytes, known: dict[str, list[str]] | None = None
) -> int:
    """Send `payload` to every socket of `subscribers`; returns how many took it. `known`: see
    connections_of; a socket found gone leaves it too."""
    delivered = 0
    for connection_id in connections_of(subscribers, known):
        try:
            sent = send(connection_id, payload)
        except Exception:
            log.warning("push to %s failed", connection_id, exc_info=True)
            continue
        delivered += sent
        if not sent and known is not None:
            for ids in known.values():
                if connection_id in ids:
                    ids.remove(connection_id)
    return delivered


caches.register("kefu.realtime.push.management_api", management_api.cache_clear)
