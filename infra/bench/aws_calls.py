"""Counting the AWS calls kefu makes, by service, operation and table, from inside the process.

Every boto3/botocore client (pynamodb's included) goes through BaseClient._make_api_call, so
one patch sees them all. DynamoDB calls are asked to return consumed capacity.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.client

_DDB_WITH_CAPACITY = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
}


@dataclass
class Call:
    service: str
    operation: str
    tables: tuple[str, ...]
    capacity: float | None
    function: str | None = None  # the Lambda function whose invocation made the call
    seconds: float = 0.0  # the call's wall time (in the benchmarks: moto's, in process)


# Which function the current thread is running (set by attribute_to_functions).
_current = threading.local()


def attribute_to_functions(functions: dict[str, Any]) -> None:
    """Wrap each local function's invoke so its calls are labelled with its logical id."""
    for logical_id, fn in functions.items():
        original = fn.invoke

        def invoke(event: Any, context: Any = None, _id: str = logical_id, _orig: Any = original):
            previous = getattr(_current, "function", None)
            _current.function = _id
            try:
                return _orig(event, context)
            finally:
                _current.function = previous

        fn.invoke = invoke


def by_function(calls: list[Call], function: str) -> list[Call]:
    return [c for c in calls if c.function == function]


@dataclass
class CallLog:
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ignore: threading.local = field(default_factory=threading.local)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()

    def snapshot(self) -> list[Call]:
        with self.lock:
            return list(self.calls)

    @contextmanager
    def unrecorded(self):  # noqa: ANN201 - context manager
        """The benchmark's own probes (checking a result) are not part of the figures."""
        self.ignore.on = True
        try:
            yield
        finally:
            self.ignore.on = False


LOG = CallLog()
_original = botocore.client.BaseClient._make_api_call


def _tables(params: dict[str, Any]) -> tuple[str, ...]:
    if "TableName" in params:
        return (params["TableName"],)
    names: list[str] = []
    for item in params.get("TransactItems", []):
        for action in item.values():
            names.append(action.get("TableName", "?"))
    names.extend(params.get("RequestItems", {}).keys())
    return tuple(names)


def _capacity(response: dict[str, Any]) -> float | None:
    consumed = response.get("ConsumedCapacity")
    if consumed is None:
        return None
    if isinstance(consumed, dict):
        consumed = [consumed]
    return float(sum(c.get("CapacityUnits", 0) for c in consumed))


def _recording_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
    service = self.meta.service_model.service_name
    if service == "dynamodb" and operation_name in _DDB_WITH_CAPACITY:
        api_params = {**api_params, "ReturnConsumedCapacity": "TOTAL"}
    started = time.perf_counter()
    response = _original(self, operation_name, api_params)
    seconds = time.perf_counter() - started
    if not getattr(LOG.ignore, "on", False):
        with LOG.lock:
            LOG.calls.append(
                Call(
                    service,
                    operation_name,
                    _tables(api_params) if service == "dynamodb" else (),
                    _capacity(response) if service == "dynamodb" else None,
                    getattr(_current, "function", None),
                    seconds,
                )
            )
    return response


def install() -> None:
    botocore.client.BaseClient._make_api_call = _recording_call


def summarize(calls: list[Call], *, table_names: dict[str, str]) -> dict[str, Any]:
    """Requests per (table, operation) for DynamoDB; other services per operation."""
    short = {v: k for k, v in table_names.items()}
    ddb = [c for c in calls if c.service == "dynamodb"]
    per_op: Counter = Counter()
    capacity = 0.0
    capacity_known = True
    for c in ddb:
        label = "+".join(sorted({short.get(t, t) for t in c.tables})) or "-"
        per_op[f"{c.operation} {label}"] += 1
        if c.capacity is None:
            capacity_known = False
        else:
            capacity += c.capacity
    others = Counter(f"{c.service}:{c.operation}" for c in calls if c.service != "dynamodb")
    functions = Counter(c.function or "-" for c in ddb)
    return {
        "dynamodb_requests": len(ddb),
        "scans": sum(1 for c in ddb if c.operation == "Scan"),
        "capacity_units": round(capacity, 1) if capacity_known else None,
        "per_operation": dict(per_op),
        "other_aws_calls": dict(others),
        "dynamodb_requests_by_function": dict(functions),
        "aws_calls": len(calls),
    }


def dynamodb_counts(calls: list[Call]) -> dict[str, Any]:
    """DynamoDB requests in all, per operation (in order of first use) and the Scans among them."""
    ops = Counter(c.operation for c in calls if c.service == "dynamodb")
    return {
        "dynamodb_requests": sum(ops.values()),
        "per_operation": dict(ops),
        "scans": ops.get("Scan", 0),
    }
