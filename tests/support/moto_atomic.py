"""Make in-process moto's DynamoDB behave like DynamoDB under threads.

moto runs each request in the calling thread and its TransactWriteItems is not atomic: it checks
and applies the items one by one, and on a cancelled transaction restores a deep copy of whole
tables, silently dropping what other threads wrote meanwhile. Tests that race threads against
kefu's conditional writes (two agents claiming one conversation, two first messages from one
customer) would then fail or pass by luck. Serialising every DynamoDB request restores what the
real service guarantees: each request, transactions included, is atomic and isolated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()


@contextmanager
def atomic_dynamodb_requests() -> Iterator[None]:
    original = DynamoHandler.call_action

    def call_action(self):
        with _lock:
            return original(self)

    DynamoHandler.call_action = call_action
    try:
        yield
    finally:
        DynamoHandler.call_action = original
