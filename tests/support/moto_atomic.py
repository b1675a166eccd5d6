"""Make in-process moto's DynamoDB behave like DynamoDB under threads, and its transactions cheap.

moto runs each request in the calling thread and its TransactWriteItems is not atomic: it checks
and applies the items one by one, and on a cancelled transaction restores a deep copy of whole
tables, silently dropping what other threads wrote meanwhile. Tests that race threads against
kefu's conditional writes (two agents claiming one conversation, two first messages from one
customer) would then fail or pass by luck. Serialising every DynamoDB request restores what the
real service guarantees: each request, transactions included, is atomic and isolated.

That deep copy is also what a transaction costs most: every table it names, copied whole before
each TransactWriteItems, so a test pays more for each write the more items its tables hold.
Requests being serialised, keeping a copy of just the items the transaction names (and the
length of each table's stream) undoes a cancelled transaction exactly as well.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()


class _TablesKept:
    """`copy` as moto's transaction sees it here: tables are not copied (the items are)."""

    @staticmethod
    def deepcopy(value: Any, memo: dict | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _items_named(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list:
    """(table, hash key, range key, a copy of the item or None) for each item the transaction
    names, before it runs."""
    saved = []
    for entry in transact_items:
        for op in entry.values():
            table = backend.tables.get(op.get("TableName"))
            key = op.get("Item", op.get("Key"))
            if table is None or not isinstance(key, dict):
                continue  # moto refuses the transaction itself
            try:
                hash_key, range_key = backend.get_keys_value(table, key)
            except Exception:  # moto refuses the transaction itself
                continue
            if range_key is None:
                item = table.items.get(hash_key)
            else:
                item = table.items.get(hash_key, {}).get(range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(item)))
    return saved


def _put_back(saved: list) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            slot, name = table.items, hash_key
        else:
            slot, name = table.items[hash_key], range_key
        if item is None:
            slot.pop(name, None)
        else:
            slot[name] = item


@contextmanager
def atomic_dynamodb_requests() -> Iterator[None]:
    original = DynamoHandler.call_action
    original_transact = DynamoDBBackend.transact_write_items

    def call_action(self):
        with _lock:
            return original(self)

    def transact_write_items(self, transact_items):
        saved = _items_named(self, transact_items)
        streams = {
            id(table): (table.stream_shard, len(table.stream_shard.items))
            for table, *_ in saved
            if table.stream_shard is not None
        }
        dynamodb_models.copy = _TablesKept  # type: ignore[assignment]
        try:
            return original_transact(self, transact_items)
        except Exception:
            _put_back(saved)
            for shard, length in streams.values():
                del shard.items[length:]
            raise
        finally:
            dynamodb_models.copy = copy

    DynamoHandler.call_action = call_action
    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoHandler.call_action = original
        DynamoDBBackend.transact_write_items = original_transact
