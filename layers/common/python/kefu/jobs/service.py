"""Jobs over HTTP (docs/jobs.md): submit a bulk operation, read one job's progress, list the
shop's jobs, approve or reject a job waiting for approval, the shop's approval threshold."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import jobs
from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import Conflict, NotFound
from kefu.ids import now_ms
from kefu.jobs.submission import approval_threshold
from kefu.pagination import decode_cursor, encode_cursor
from kefu.storage.jobs import (
    AWAITING_APPROVAL,
    JOB_PREFIX,
    QUEUED,
    REJECTED,
    STATUSES,
    Job,
    JobSettings,
)
from kefu.storage.tx import condition_failed, write_transaction


class NewJob(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    selection: jobs.Selection
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class JobSettingsChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    approval_threshold: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]


def _job(shop_id: str, job_id: str) -> Job:
    if not job_id.startswith("job_") or len(job_id) > 40:
        raise NotFound(f"no job {job_id!r}", code="job_not_found")
    return Job.get_or_404(
        shop_id,
        Job.key(job_id),
        message=f"no job {job_id!r}",
        code="job_not_found",
        consistent_read=True,
    )


def submit(actor: StaffActor, req: NewJob) -> dict:
    p.require(actor, p.JOBS_SUBMIT)
    job = jobs.submit(actor.shop_id, req.kind, req.params, actor, selection=req.selection)
    return job.to_public(now_ms())


def get_job(actor: StaffActor, job_id: str) -> dict:
    p.require(actor, p.JOBS_READ)
    return _job(actor.shop_id, job_id).to_public(now_ms())


def list_jobs(
    actor: StaffActor, *, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> dict:
    p.require(actor, p.JOBS_READ)
    if status is not None and status not in STATUSES:
        from kefu.errors import BadRequest

        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    results = Job.query(
        actor.shop_id,
        Job.sk.startswith(JOB_PREFIX),
        filter_condition=(Job.status == status) if status else None,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=actor.shop_id),
    )
    now = now_ms()
    items = [j.to_public(now) for j in results]
    return {"jobs": items, "next_cursor": encode_cursor(results.last_evaluated_key)}


def decide(actor: StaffActor, job_id: str, *, approve: bool) -> dict:
    """The owner approves (the job is queued) or rejects (it ends) a job awaiting approval."""
    p.require(actor, p.JOBS_APPROVE)
    job = _job(actor.shop_id, job_id)
    if job.status != AWAITING_APPROVAL:
        raise Conflict(f"the job is {job.status}, not awaiting approval", code="not_awaiting")
    at = now_ms()
    to = QUEUED if approve else REJECTED
    # A planned job (its chunks written) goes on running; an unplanned one is planned first.
    extra = [Job.decided_by.set(actor.actor_id), Job.decided_at.set(at)]
    if not approve:
        extra.append(Job.finished_at.set(at))
    actions, condition = job.transition(to, at, *extra)
    try:
        with write_transaction() as tx:
            tx.update(job, actions, condition=condition)
            tx.save(
                staff_change(
                    actor,
                    action="job.approved" if approve else "job.rejected",
                    target_type="job",
                    target_id=job_id,
                    before={"status": AWAITING_APPROVAL},
                    after={"status": to, "size": job.total, "kind": job.kind},
                    at_ms=at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            raise Conflict("the job changed meanwhile: reload it", code="stale") from None
        raise
    if approve:
        jobs.enqueue(actor.shop_id, job_id)
    return _job(actor.shop_id, job_id).to_public(now_ms())


def get_settings(actor: StaffActor) -> dict:
    p.require(actor, p.JOBS_READ)
    return {"approval_threshold": approval_threshold(actor.shop_id)}


def put_settings(actor: StaffActor, change: JobSettingsChange) -> dict:
    p.require(actor, p.JOBS_APPROVE)
    before = approval_threshold(actor.shop_id)
    at = now_ms()
    with write_transaction() as tx:
        tx.save(
            JobSettings(
                actor.shop_id,
                approval_threshold=change.approval_threshold,
                updated_at=at,
                updated_by=actor.username,
            )
        )
        tx.save(
            staff_change(
                actor,
                action="job.settings_updated",
                target_type="job",
                target_id="settings",
                before={"approval_threshold": before},
                after={"approval_threshold": change.approval_threshold},
                at_ms=at,
            )
        )
    return {"approval_threshold": change.approval_threshold}
