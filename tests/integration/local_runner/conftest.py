from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.stack import LocalStack

FIXTURE_DIR = Path(__file__).parent / "fixture"
FIXTURE_TEMPLATE = FIXTURE_DIR / "template.yaml"


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    # Package scope: one stack for these tests, gone (env restored) before other packages run.
    with LocalStack(FIXTURE_TEMPLATE, port=0, moto_port=0) as running:
        yield running


@pytest.fixture
def table(stack: LocalStack) -> Any:
    return stack.client("dynamodb")


def wait_for(check: Callable[[], Any], timeout: float = 15, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def get_item(stack: LocalStack, pk: str, sk: str) -> dict[str, Any] | None:
    ddb = stack.client("dynamodb")
    item = ddb.get_item(
        TableName=stack.resource("ItemsTable").physical_id,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return None
    return {k: next(iter(v.values())) for k, v in item.items()}


def query(stack: LocalStack, pk: str) -> list[dict[str, Any]]:
    ddb = stack.client("dynamodb")
    items = ddb.query(
        TableName=stack.resource("ItemsTable").physical_id,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
