from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kefu.ids import now_ms
from kefu.realtime import push
from kefu.storage.connections import Connection, customer_subscriber, staff_subscriber


class FakeManagementApi:
    """The API Gateway Management API as the notifier sees it: frames per connection, and
    connections that answer 410 Gone."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.gone: set[str] = set()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict:
        if ConnectionId in self.gone:
            raise ClientError(
                {
                    "Error": {"Code": "GoneException", "Message": ""},
                    "ResponseMetadata": {"HTTPStatusCode": 410},
                },
                "PostToConnection",
            )
        self.sent.setdefault(ConnectionId, []).append(json.loads(Data))
        return {}

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        return self.sent.get(connection_id, [])


@pytest.fixture
def sockets(kefu_env) -> Iterator[FakeManagementApi]:
    # Restored before kefu_env's teardown (which clears the real client's cache).
    fake, original = FakeManagementApi(), push.management_api
    push.management_api = lambda: fake
    yield fake
    push.management_api = original


_ids = itertools.count(1)


def connected(shop_id: str, kind: str, principal: str, role: str | None = None) -> str:
    """Store an open connection as $connect would; returns its id."""
    connection_id = f"{shop_id}-{kind}-{principal}-{next(_ids)}"
    staff = kind == "staff"
    Connection(
        connection_id,
        shop_id=shop_id,
        subscriber=(staff_subscriber if staff else customer_subscriber)(shop_id, principal),
        shop_staff=f"{shop_id}#staff" if staff else None,
        kind=kind,
        principal=principal,
        role=role or ("agent" if staff else None),
        connected_at=now_ms(),
        expires_at=now_ms() // 1000 + 7200,
    ).save()
    return connection_id
