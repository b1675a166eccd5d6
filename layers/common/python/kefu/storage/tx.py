"""Transactions across kefu's tables, and reading why one was cancelled; reads of items of
several tables in one request."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from kefu.storage.base import KefuModel


@cache
def _connection(region: str, endpoint: str | None) -> Connection:
    # One per process (per endpoint, which only changes between test environments): a new
    # Connection builds a botocore client and parses the service model, ~0.2 s of CPU.
    del endpoint  # part of the cache key only; botocore reads AWS_ENDPOINT_URL itself
    return Connection(region=region)


class WriteTransaction(TransactWrite):
    """pynamodb's TransactWrite that also knows where each action sits in the request it sends
    (condition checks, then deletes, then puts, then updates), so a caller can read why the
    n-th put or update was cancelled without pynamodb's private lists."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counts = {"condition_check": 0, "delete": 0, "put": 0, "update": 0}

    def condition_check(
        self,
        model_cls: type[Model],
        hash_key: Any,
        range_key: Any = None,
        condition: Condition | None = None,
    ) -> None:
        super().condition_check(model_cls, hash_key, range_key=range_key, condition=condition)
        self.counts["condition_check"] += 1

    def delete(
        self,
        model: Model,
        condition: Condition | None = None,
        *,
        add_version_condition: bool = True,
    ) -> None:
        super().delete(model, condition, add_version_condition=add_version_condition)
        self.counts["delete"] += 1

    def save(
        self, model: Model, condition: Condition | None = None, return_values: str | None = None
    ) -> None:
        super().save(model, condition, return_values)
        self.counts["put"] += 1

    def update(
        self,
        model: Model,
        actions: list[Action],
        condition: Condition | None = None,
        return_values: str | None = None,
        *,
        add_version_condition: bool = True,
    ) -> None:
        super().update(
            model, actions, condition, return_values, add_version_condition=add_version_condition
        )
        self.counts["update"] += 1

    def put_index(self, n: int) -> int:
        """The request position of the n-th `save` (0-based), for condition_failed/old_item."""
        return self.counts["condition_check"] + self.counts["delete"] + n

    def update_index(self, n: int) -> int:
        """The request position of the n-th `update` (0-based)."""
        return self.put_index(self.counts["put"]) + n


def write_transaction() -> WriteTransaction:
    """A TransactWriteItems over any of kefu's tables: one request, all or nothing."""
    return WriteTransaction(
        connection=_connection(KefuModel.Meta.region, os.environ.get("AWS_ENDPOINT_URL"))
    )


def condition_failed(exc: TransactWriteError, index: int) -> bool:
    """True when the index-th action of the transaction failed its condition.

    The index is the item's position in the request pynamodb sends, which is not call order:
    condition checks first, then deletes, then puts (save), then updates.
    """
    reasons = exc.cancellation_reasons or []
    reason = reasons[index] if len(reasons) > index else None
    return reason is not None and reason.code == "ConditionalCheckFailed"


def old_item(exc: TransactWriteError, index: int) -> dict[str, Any] | None:
    """The item as it was, for an action sent with return_values=ALL_OLD whose condition failed."""
    reasons = exc.cancellation_reasons or []
    reason = reasons[index] if len(reasons) > index else None
    return reason.raw_item if reason is not None else None


def get_together(
    requests: list[tuple[type[KefuModel], Any, Any]],
) -> dict[type[KefuModel], KefuModel | None]:
    """One BatchGetItem across tables, strongly consistent: each (model, hash key, range key)
    (one item per model class), and what was found of each (None: no such item). Keys left
    unprocessed (throttling) are asked for again, boundedly."""
    conn = requests[0][0]._get_connection().connection  # the models' cached client
    request_items: dict[str, Any] = {}
    by_key: dict[tuple[str, str], type[KefuModel]] = {}  # two models may share a table
    range_names: dict[str, str] = {}
    for model, hash_key, range_key in requests:
        keys = model._serialize_keys(hash_key, range_key)
        range_name = model._range_key_attribute().attr_name
        key = {
            model._hash_key_attribute().attr_name: {"S": keys[0]},
            range_name: {"S": keys[1]},
        }
        table = str(model.Meta.table_name)
        request_items.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        by_key[(table, keys[1])] = model
        range_names[table] = range_name
    found: dict[type[KefuModel], KefuModel | None] = {model: None for model, _, _ in requests}
    for _ in range(3):
        resp = conn.client.batch_get_item(RequestItems=request_items)
        for table, items in resp.get("Responses", {}).items():
            for item in items:
                model = by_key[(table, item[range_names[table]]["S"])]
                found[model] = model.from_raw_data(item)
        request_items = resp.get("UnprocessedKeys") or {}
        if not request_items:
            break
    return found
