"""The job worker's work on one queued job (functions/job_worker; docs/jobs.md).

1. Plan (a job over a segment or the whole shop): its customer ids into chunks of CHUNK_SIZE,
   one item each, then the job's total; a job over the approval threshold then waits for the
   owner. Planning again after a crash rewrites the same chunks.
2. Run chunk `next_chunk`, then record its counts and move `next_chunk` on in ONE conditional
   update: a crash between the two replays the chunk, whose per-customer operations change
   nothing the second time, and its counts are recorded once.
   One job of a shop runs at a time (JobRunner, a lease refreshed per chunk): another waits,
   queued again a minute later.
3. Before the invocation runs out of time, queue the job again (a new SQS message) and stop:
   the next invocation goes on from `next_chunk`. A job's chunks run one at a time, at most
   MAX_CUSTOMERS_PER_SECOND, so one job's writes to the shop's customers key stay bounded.
4. The last chunk done: the job is `done`, audited with its counts, `job.finished` published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from pynamodb.exceptions import UpdateError

from kefu import events_catalog as c
from kefu import jobs
from kefu.audit import record_event
from kefu.events import DomainEvent, publish
from kefu.ids import now_ms
from kefu.jobs.submission import needs_approval
from kefu.storage.customers import CUSTOMER_PREFIX, Customer
from kefu.storage.jobs import (
    AWAITING_APPROVAL,
    DONE,
    FAILED,
    MAX_ERRORS,
    QUEUED,
    RUNNING,
    Job,
    JobChunk,
    JobRunner,
)

log = logging.getLogger("kefu.jobs")

# What one chunk may take at most (100 customers, a transaction each): stop before that is left.
CHUNK_BUDGET_MS = 20_000
# A job's pace at most: the shop's customers share one partition key (CustomersTable pk = shop),
# and a customer's change is a transaction (2 write units on that key): 100 customers a second
# keep one job under ~200 writes a second there, at a mall's peak too.
MAX_CUSTOMERS_PER_SECOND = 100
# The shop's runner lease: longer than a chunk, shorter than the jobs queue's visibility timeout
# (720 s), so a job whose worker crashed is resumed by its redelivered message.
RUNNER_LEASE_MS = 300_000
# A job waiting for another of its shop's jobs is looked at again this much later.
WAIT_FOR_RUNNER_S = 60


def _conditional(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def _load(shop_id: str, job_id: str) -> Job | None:
    try:
        return Job.get(shop_id, Job.key(job_id), consistent_read=True)
    except Job.DoesNotExist:
        return None


def _segment_members(shop_id: str, segment_id: str) -> Iterator[str]:
    # The segments part's function (docs/jobs.md): the customer ids of a saved segment.
    from kefu.segments import members

    yield from members(shop_id, segment_id)


def _all_customers(shop_id: str) -> Iterator[str]:
    """Every customer of the shop: one paginated Query of its partition (keys only)."""
    for item in Customer.query(
        shop_id, Customer.sk.startswith(CUSTOMER_PREFIX), attributes_to_get=["customer_id"]
    ):
        yield item.customer_id


def plan(job: Job) -> Job | None:
    """Write the chunks of a job over a segment or the shop; return the job as it is now (None
    when another worker moved it meanwhile)."""
    selection = job.selection or {}
    at = now_ms()
    kind = jobs.kind(job.kind)
    planned_errors: list[dict] = []
    try:
        if kind.plan is not None:
            planned = kind.plan(job)
            parts, planned_errors = planned.chunks, planned.errors
            ids = [u for part in parts for u in part]
        elif selection.get("segment_id"):
            ids = list(dict.fromkeys(_segment_members(job.shop_id, selection["segment_id"])))
        else:
            ids = list(_all_customers(job.shop_id))
    except Exception as exc:  # the segment is gone, the segments part refused it, a bad file
        log.exception("job %s could not be planned", job.job_id)
        reason = getattr(exc, "code", None) or type(exc).__name__
        actions, condition = job.transition(
            FAILED, at, Job.finished_at.set(at), Job.failure.set(f"planning failed: {reason}")
        )
        _update(job, actions, condition)
        return None
    if kind.plan is None:
        parts = jobs.chunks(ids)
    with JobChunk.batch_write() as batch:
        for n, units in enumerate(parts):
            batch.save(JobChunk(JobChunk.key(job.shop_id, job.job_id, n), units=units))
    total = len(ids) + len(planned_errors)
    waits = not job.decided_by and needs_approval(job.shop_id, total, job.actor_role)
    extra = []
    if planned_errors:  # rows refused while planning: failed units, the first kept
        extra = [Job.failed.set(len(planned_errors)), Job.errors.set(planned_errors[:MAX_ERRORS])]
    actions, condition = job.transition(
        AWAITING_APPROVAL if waits else QUEUED,
        at,
        *extra,
        Job.total.set(total),
        Job.chunk_count.set(len(parts)),
        Job.approval_required.set(1 if waits else 0),
    )
    if not _update(job, actions, condition):
        return None
    return _load(job.shop_id, job.job_id)


def _update(job: Job, actions: list, condition: Any) -> bool:
    try:
        job.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if _conditional(exc):
            return False
        raise
    return True


def _start(job: Job) -> bool:
    at = now_ms()
    actions, condition = job.transition(RUNNING, at, Job.started_at.set(at))
    return _update(job, actions, condition)


def _finish(job: Job) -> None:
    kind = jobs.kind(job.kind)
    if kind.finish is not None:
        kind.finish(job)
    at = now_ms()
    actions, condition = job.transition(DONE, at, Job.finished_at.set(at))
    if not _update(job, actions, condition):
        return
    counts = {"total": int(job.total or 0), "done": int(job.done), "failed": int(job.failed)}
    record_event(
        shop_id=job.shop_id,
        actor=job.actor,
        actor_role=job.actor_role,
        action="job.completed",
        target_type="job",
        target_id=job.job_id,
        details={"kind": job.kind, **counts},
    )
    publish(
        DomainEvent(
            c.JobFinished(job_id=job.job_id, kind=job.kind, status=DONE, actor=job.actor, **counts),
            job.shop_id,
            f"job.finished:{job.job_id}",
        )
    )


def _pace(units: int, took_s: float, per_second: int = MAX_CUSTOMERS_PER_SECOND) -> None:
    """Wait out the rest of the chunk's share of a second at `per_second` (the kind's pace,
    at most MAX_CUSTOMERS_PER_SECOND)."""
    rest = units / min(per_second, MAX_CUSTOMERS_PER_SECOND) - took_s
    if rest > 0:
        time.sleep(rest)


def run(shop_id: str, job_id: str, time_left_ms: Callable[[], int]) -> dict[str, Any]:
    """Work on the job until it is done, waits, or the invocation must stop. Returns what to
    log. Raises (the SQS message comes back) only on an unexpected failure."""
    job = _load(shop_id, job_id)
    if job is None:
        return {"outcome": "no_such_job"}
    if job.status == QUEUED and job.chunk_count is None:
        job = plan(job)
        if job is None:
            return {"outcome": "not_planned"}
    if job.status == QUEUED:
        if not _start(job):
            return {"outcome": "moved_meanwhile"}
        job = _load(shop_id, job_id)
    if job is None or job.status != RUNNING:
        return {"outcome": job.status if job else "no_such_job"}
    kind = jobs.kind(job.kind)
    chunks_run = 0
    while int(job.next_chunk) < int(job.chunk_count or 0):
        if chunks_run and time_left_ms() < CHUNK_BUDGET_MS:
            jobs.enqueue(shop_id, job_id)
            return {"outcome": "continued", "chunks": chunks_run, "next_chunk": job.next_chunk}
        if not JobRunner.take(shop_id, job_id, now_ms(), RUNNER_LEASE_MS):
            jobs.enqueue(shop_id, job_id, delay_s=WAIT_FOR_RUNNER_S)
            return {"outcome": "waiting_for_another_job", "next_chunk": job.next_chunk}
        n = int(job.next_chunk)
        chunk = JobChunk.load(shop_id, job_id, n)
        started = time.monotonic()
        outcome = kind.run_chunk(job, [str(u) for u in chunk.units])
        _pace(len(chunk.units), time.monotonic() - started, kind.pace)
        actions, condition = job.progress(
            n, outcome.done, len(outcome.errors), outcome.errors, now_ms()
        )
        if not _update(job, actions, condition):
            return {"outcome": "moved_meanwhile", "chunk": n}  # another worker has it
        chunks_run += 1
        job.refresh(consistent_read=True)
    _finish(job)
    JobRunner.release(shop_id, job_id)
    return {"outcome": "done", "chunks": chunks_run, "done": int(job.done)}
