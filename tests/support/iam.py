"""Does a function's policy in template.yaml allow what its code actually does? Records the
DynamoDB calls a code path makes (every botocore client, pynamodb's too) and checks each against
the function's statements: the action on the table (or the index) the call names. moto does not
enforce IAM, so without this a missing grant shows only once deployed.

    with dynamodb_calls() as calls:
        run_the_job()
    assert not denied("JobWorkerFunction", calls)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient

from infra.local.template import apply_globals, load_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# A transaction's parts are authorised as the single-item actions they are.
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
_TRANSACT |= {"ConditionCheck": "ConditionCheckItem"}


@cache
def _resources() -> dict[str, Any]:
    return apply_globals(load_yaml(TEMPLATE))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _calls_of(operation: str, params: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(action, table name, index name or None) for one API call."""
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(operation, table, None) for table in params.get("RequestItems") or {}]
    if operation == "TransactWriteItems":
        out = []
        for item in params.get("TransactItems") or []:
            for kind, body in item.items():
                out.append((_TRANSACT[kind], body["TableName"], None))
        return out
    if operation == "TransactGetItems":
        return [("GetItem", i["Get"]["TableName"], None) for i in params["TransactItems"]]
    if "TableName" in params:
        return [(operation, params["TableName"], params.get("IndexName"))]
    return []


@contextlib.contextmanager
def dynamodb_calls() -> Iterator[set[tuple[str, str, str | None]]]:
    """The DynamoDB (action, table, index) triples made inside the block."""
    seen: set[tuple[str, str, str | None]] = set()
    real = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            seen.update(_calls_of(operation, params))
        return real(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", recording):
        yield seen


def _logical_table(function: str, table_name: str) -> str | None:
    """The table's logical id, through the function's environment (TABLE variables)."""
    variables = _resources()[function]["Properties"].get("Environment", {}).get("Variables", {})
    for var, value in variables.items():
        if os.environ.get(var) == table_name and isinstance(value, dict) and "Ref" in value:
            return str(value["Ref"])
    return None


def _resources_of(statement: dict[str, Any]) -> set[str]:
    """ "T" for a table's ARN, "T/index/I" (or "T/index/*") for its indexes."""
    out = set()
    for r in _as_list(statement.get("Resource", [])):
        if isinstance(r, dict) and "Fn::GetAtt" in r:
            target = r["Fn::GetAtt"]
            target = target.split(".", 1) if isinstance(target, str) else target
            if target[1] == "Arn":
                out.add(target[0])
        elif isinstance(r, dict) and "Fn::Sub" in r:
            text = r["Fn::Sub"] if isinstance(r["Fn::Sub"], str) else r["Fn::Sub"][0]
            if text.startswith("${") and ".Arn}/index/" in text:
                logical, _, rest = text[2:].partition(".Arn}")
                out.add(logical + rest)
    return out


def allowed(function: str, action: str, table: str, index: str | None = None) -> bool:
    """Whether `function`'s statements allow dynamodb:`action` on the table (or its index)."""
    want = {f"{table}/index/{index}", f"{table}/index/*"} if index else {table}
    for policy in _as_list(_resources()[function]["Properties"].get("Policies") or []):
        if not (isinstance(policy, dict) and "Statement" in policy):
            continue
        for statement in _as_list(policy["Statement"]):
            if statement.get("Effect") != "Allow":
                continue
            actions = _as_list(statement.get("Action", []))
            if f"dynamodb:{action}" in actions and want & _resources_of(statement):
                return True
    return False


def denied(function: str, calls: set[tuple[str, str, str | None]]) -> list[str]:
    """The recorded calls the function's policy would refuse, as readable lines."""
    out = []
    for action, table_name, index in sorted(calls, key=str):
        logical = _logical_table(function, table_name)
        if logical is None or not allowed(function, action, logical, index):
            where = f"{logical or table_name}" + (f"/index/{index}" if index else "")
            out.append(f"{function} may not dynamodb:{action} on {where}")
    return out
