"""Submitting a job: validate, write it with its audit record (one transaction), write an
explicit selection's chunks, then queue it — or hold it for the owner when it is larger than
the shop's approval threshold.

Approval (docs/jobs.md "Approval"): a job over the threshold submitted by anyone but the owner
waits in `awaiting_approval` until the owner approves or rejects it. The owner's own jobs do
not wait: the owner is the one who would approve, and a second click by the same person proves
nothing. A job over a segment or the whole shop learns its size when the worker plans it, and
waits then.
"""

from __future__ import annotations

from typing import Any

from kefu import jobs
from kefu.audit import staff_change
from kefu.errors import BadRequest
from kefu.ids import new_id, now_ms
from kefu.storage.jobs import AWAITING_APPROVAL, QUEUED, SETTINGS, Job, JobChunk, JobSettings
from kefu.storage.tx import write_transaction


def approval_threshold(shop_id: str) -> int:
    try:
        return int(JobSettings.get(shop_id, SETTINGS).approval_threshold)
    except JobSettings.DoesNotExist:
        return jobs.DEFAULT_APPROVAL_THRESHOLD


def needs_approval(shop_id: str, total: int, role: str | None) -> bool:
    return role != "owner" and total > approval_threshold(shop_id)


def submit_job(
    shop_id: str,
    kind_name: str,
    params: dict[str, Any],
    actor: Any,
    selection: jobs.Selection | None,
) -> Job:
    kind = jobs.kind(kind_name)
    if (selection is None) != (kind.plan is not None):
        raise BadRequest(
            f"a {kind_name} job takes no selection" if selection else "selection is required",
            code="invalid_selection",
        )
    selection = selection or jobs.Selection(all=True)  # planned by the kind: never read
    selection.check()
    if not isinstance(params, dict):
        raise BadRequest("params must be an object", code="validation_error")
    checked = kind.check(shop_id, params)
    at = now_ms()
    job_id = new_id("job", at)
    ids = list(dict.fromkeys(selection.customer_ids or [])) if kind.plan is None else []
    total = len(ids) if selection.customer_ids is not None and kind.plan is None else None
    waits = total is not None and needs_approval(shop_id, total, actor.role)
    job = Job(
        shop_id,
        Job.key(job_id),
        job_id=job_id,
        kind=kind_name,
        params=checked,
        selection=selection.summary() if kind.plan is None else {},
        status=AWAITING_APPROVAL if waits else QUEUED,
        total=total,
        chunk_count=len(jobs.chunks(ids)) if total is not None else None,
        actor=actor.actor_id,
        actor_role=actor.role,
        approval_required=1 if waits else 0,
        created_at=at,
        updated_at=at,
        errors=[],
    )
    if total is not None:
        # Before the job item: a worker never sees a planned job without its chunks.
        with JobChunk.batch_write() as batch:
            for n, units in enumerate(jobs.chunks(ids)):
                batch.save(JobChunk(JobChunk.key(shop_id, job_id, n), units=units))
    audit = staff_change(
        actor,
        action="job.submitted",
        target_type="job",
        target_id=job_id,
        after={
            "kind": kind_name,
            "params": checked,
            "selection": selection.summary() if kind.plan is None else None,
            "size": total,
            "status": job.status,
        },
        at_ms=at,
    )
    with write_transaction() as tx:
        tx.save(job, condition=Job.sk.does_not_exist())
        tx.save(audit)
    if job.status == QUEUED:
        jobs.enqueue(shop_id, job_id)
    return job
