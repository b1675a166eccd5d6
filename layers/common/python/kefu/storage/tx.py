"""Reading why a TransactWriteItems call was cancelled."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError


def condition_failed(exc: TransactWriteError, index: int) -> bool:
    """True when the index-th action of the transaction failed its condition."""
    reasons = exc.cancellation_reasons or []
    reason = reasons[index] if len(reasons) > index else None
    return reason is not None and reason.code == "ConditionalCheckFailed"


def old_item(exc: TransactWriteError, index: int) -> dict[str, Any] | None:
    """The item as it was, for an action sent with return_values=ALL_OLD whose condition failed."""
    reasons = exc.cancellation_reasons or []
    reason = reasons[index] if len(reasons) > index else None
    return reason.raw_item if reason is not None else None
