"""Background jobs (docs/jobs.md): an operation over many customers — tag, untag, set the owner
agent, set an attribute, back-fill an auto-tag rule — run a chunk at a time by the job worker
(functions/job_worker: SQS → Lambda, with a DLQ), with progress, resumable after a crash,
idempotent, audited as ONE operation with its size, and held for the owner's approval when it
is larger than the shop's threshold.

`submit(shop_id, kind, params, actor, selection=...)` validates the kind's params, writes the
job (and, for an explicit selection, its chunks) with its audit record, and queues it. A kind
is a `JobKind` in the module `KIND_MODULES` names (imported on first use, so a function pays
only for the kinds it runs).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from kefu.errors import BadRequest
from kefu.storage.jobs import CHUNK_SIZE, Job

MAX_SELECTION = 5_000  # customer ids named in one request; more: a segment
DEFAULT_APPROVAL_THRESHOLD = 1_000

# kind -> the module defining it (its JOB_KINDS dict holds the JobKind)
KIND_MODULES = {
    "tag": "kefu.tags.bulk",
    "untag": "kefu.tags.bulk",
    "set_owner_agent": "kefu.tags.bulk",
    "set_attribute": "kefu.tags.bulk",
    "rule_backfill": "kefu.tags.bulk",
    "customer_import": "kefu.customers.import_job",
    "customer_export": "kefu.customers.export_job",
}

CustomerIdText = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[\w.:-]+$")]


class Selection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Exactly one of: customer ids, a saved segment, every customer of the shop."""

    customer_ids: Annotated[list[CustomerIdText], msgspec.Meta(max_length=MAX_SELECTION)] | None = (
        None
    )
    segment_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    all: bool = False

    def check(self) -> None:
        given = [self.customer_ids is not None, self.segment_id is not None, self.all]
        if sum(given) != 1:
            raise BadRequest(
                "selection must name exactly one of customer_ids, segment_id, all",
                code="invalid_selection",
            )
        if self.customer_ids is not None and not self.customer_ids:
            raise BadRequest("customer_ids is empty", code="invalid_selection")

    def summary(self) -> dict[str, Any]:
        if self.customer_ids is not None:
            return {"customer_ids": len(dict.fromkeys(self.customer_ids))}
        if self.segment_id is not None:
            return {"segment_id": self.segment_id}
        return {"all": True}


@dataclass
class ChunkOutcome:
    done: int = 0
    errors: list[dict] = field(default_factory=list)  # {"customer_id", "reason"}

    def fail(self, customer_id: str, reason: str) -> None:
        self.errors.append({"customer_id": customer_id, "reason": reason})


@dataclass(frozen=True)
class JobKind:
    name: str
    # (shop_id, params) -> the params to store, checked (BadRequest on anything wrong)
    check: Callable[[str, dict[str, Any]], dict[str, Any]]
    # (the job, one chunk's customer ids) -> outcome. Must be idempotent per customer: a chunk
    # is run again after a crash, and must then change nothing it changed already.
    run_chunk: Callable[[Job, list[str]], ChunkOutcome]
    # A kind whose units are not customers (an import's rows) plans itself: (the job) -> its
    # chunks and the errors found while planning (counted as failed units). Such a kind is
    # submitted without a selection.
    plan: Callable[[Job], Planned] | None = None
    # Run once when the last chunk is done, before the job is `done` (an import's error
    # report, an export's file). Must be idempotent: a crash may run it again.
    finish: Callable[[Job], None] | None = None
    # Units a second at most. A bulk change writes ~2 items of the shop's customers partition
    # per customer (100/s: ~200 writes/s); an imported row that creates a customer writes ~8
    # (identity, customer, name, lookup items, tags), so an import goes slower.
    pace: int = 100


@dataclass
class Planned:
    chunks: list[list[str]]
    errors: list[dict] = field(default_factory=list)


def kind(name: str) -> JobKind:
    module = KIND_MODULES.get(name)
    if module is None:
        raise BadRequest(
            f"kind must be one of {', '.join(sorted(KIND_MODULES))}", code="invalid_job_kind"
        )
    found: JobKind = importlib.import_module(module).JOB_KINDS[name]
    return found


def chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE)]


def enqueue(shop_id: str, job_id: str, *, delay_s: int = 0) -> None:
    """Ask the job worker to run (or go on with) a job: one SQS message."""
    from kefu.aws import client

    client("sqs").send_message(
        QueueUrl=os.environ["JOBS_QUEUE_URL"],
        MessageBody=json.dumps({"shop_id": shop_id, "job_id": job_id}),
        DelaySeconds=delay_s,
    )


def submit(
    shop_id: str, kind: str, params: dict[str, Any], actor: Any, *, selection: Selection | None
) -> Job:
    """Validate, write the job with its audit record, and queue it (or hold it for approval).
    `actor` is the StaffActor who asked; the job acts as them. `selection` is None exactly for
    a kind that plans itself."""
    from kefu.jobs.submission import submit_job

    return submit_job(shop_id, kind, params, actor, selection)
