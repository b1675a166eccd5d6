"""Transactions across kefu's tables, and reading why one was cancelled."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from kefu.storage.base import KefuModel


@cache
def _connection(region: str, endpoint: str | None) -> Connection:
    # One per process (per endpoint, which only changes between test environments): a new
    # Connection builds a botocore client and parses the service model, ~0.2 s of CPU.
    del endpoint  # part of the cache key only; botocore reads AWS_ENDPOINT_URL itself
    return Connection(region=region)


def write_transaction() -> TransactWrite:
    """A TransactWriteItems over any of kefu's tables: one request, all or nothing."""
    return TransactWrite(
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
