"""JobsTable: background jobs (kefu.jobs, docs/jobs.md) — bulk operations over many customers,
run a chunk at a time by the job worker.

pk = shop_id
  sk = "job#<job_id>"        the job: kind, params, selection, status, counts (total, done,
                             failed), the first MAX_ERRORS errors, `next_chunk` (the chunk to run
                             next: a crash resumes there), who submitted and approved it, times.
                             Job ids are time-ordered, so the shop's jobs list newest first with
                             one Query. Written once per chunk (~1 write a second per job).
  sk = "settings"            the shop's job settings (approval threshold)
  sk = "runner"              which job of the shop is running now, with a lease (JobRunner):
                             one job at a time per shop, refreshed once per chunk
pk = "<shop>#job#<job_id>#<n>", sk = "chunk"
                             the n-th chunk's units (CHUNK_SIZE customer ids), written
                             when the job is planned. One partition per chunk: planning a
                             100,000-customer job writes 1,000 items on 1,000 keys, never a
                             burst on one.

A job's status changes only through `Job.transition` (conditional on the status it leaves), and
its progress only through `Job.progress` (conditional on `next_chunk`): a chunk replayed after a
crash cannot be counted twice.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.expressions.update import Action

from kefu.storage.base import KefuModel, table_name

JOBS_TABLE = table_name("JOBS_TABLE", "kefu-jobs")
JOB_PREFIX = "job#"
SETTINGS = "settings"
CHUNK = "chunk"
RUNNER = "runner"
CHUNK_SIZE = 100
MAX_ERRORS = 20

QUEUED = "queued"  # submitted; the worker plans it (its customers, in chunks)
AWAITING_APPROVAL = "awaiting_approval"  # over the shop's threshold: the owner decides
RUNNING = "running"
DONE = "done"
FAILED = "failed"  # could not be planned (e.g. the segment is gone)
REJECTED = "rejected"
STATUSES = (QUEUED, AWAITING_APPROVAL, RUNNING, DONE, FAILED, REJECTED)


class Job(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = JOBS_TABLE

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    params = JSONAttribute()
    selection = JSONAttribute()  # {"customer_ids": n} | {"segment_id": ...} | {"all": true}
    status = UnicodeAttribute()
    total = NumberAttribute(null=True)  # known once planned
    chunk_count = NumberAttribute(null=True)
    next_chunk = NumberAttribute(default=0)
    done = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    errors = JSONAttribute(default=list)  # [{"customer_id", "reason"}], the first MAX_ERRORS
    actor = UnicodeAttribute()  # staff:<username>
    actor_role = UnicodeAttribute(null=True)
    approval_required = NumberAttribute(default=0)  # 1 | 0
    decided_by = UnicodeAttribute(null=True)  # who approved or rejected it
    decided_at = NumberAttribute(null=True)
    created_at = NumberAttribute()
    started_at = NumberAttribute(null=True)
    updated_at = NumberAttribute()
    finished_at = NumberAttribute(null=True)
    failure = UnicodeAttribute(null=True)  # why a job failed as a whole

    @staticmethod
    def key(job_id: str) -> str:
        return f"{JOB_PREFIX}{job_id}"

    def transition(self, to: str, at: int, *extra: Action) -> tuple[list[Action], Any]:
        """(actions, condition) of a status change from the current one: for `update` or a
        transaction. The condition fails if someone else moved the job meanwhile."""
        actions: list[Action] = [Job.status.set(to), Job.updated_at.set(at), *extra]
        return actions, Job.status == self.status

    def progress(
        self, chunk: int, done: int, failed: int, errors: list[dict], at: int
    ) -> tuple[list[Action], Any]:
        """(actions, condition) recording chunk `chunk` finished: its counts added, the first
        errors kept, `next_chunk` moved on — only if it is still the chunk to run."""
        kept = (list(self.errors or []) + errors)[:MAX_ERRORS]
        actions: list[Action] = [
            Job.next_chunk.set(chunk + 1),
            Job.done.add(done),
            Job.failed.add(failed),
            Job.updated_at.set(at),
        ]
        if errors and len(self.errors or []) < MAX_ERRORS:
            actions.append(Job.errors.set(kept))
        return actions, (Job.next_chunk == chunk) & (Job.status == RUNNING)

    def eta_ms(self, now: int) -> int | None:
        """When it should finish, from its pace so far (None before the first chunk)."""
        processed = int(self.done or 0) + int(self.failed or 0)
        if self.status != RUNNING or not self.started_at or not processed or not self.total:
            return None
        pace = (now - int(self.started_at)) / processed
        return now + int(pace * (int(self.total) - processed))

    def to_public(self, now: int) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "params": self.params,
            "selection": self.selection,
            "status": self.status,
            "total": self.total,
            "done": int(self.done or 0),
            "failed": int(self.failed or 0),
            "errors": list(self.errors or []),
            "eta": self.eta_ms(now),
            "actor": self.actor,
            "approval_required": bool(self.approval_required),
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "failure": self.failure,
        }


class JobChunk(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = JOBS_TABLE

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=CHUNK)
    units = ListAttribute(of=UnicodeAttribute)  # customer ids, for the bulk kinds

    @staticmethod
    def key(shop_id: str, job_id: str, n: int) -> str:
        return f"{shop_id}#job#{job_id}#{n}"

    @classmethod
    def load(cls, shop_id: str, job_id: str, n: int) -> JobChunk:
        return cls.get(cls.key(shop_id, job_id, n), CHUNK, consistent_read=True)


class JobRunner(KefuModel):
    """One job of a shop runs at a time: the shop's customers share one partition key, so two
    jobs at once would double the writes on it. Taken with a conditional put (free, or held by
    this job, or its lease ran out: the worker that held it crashed), refreshed once per chunk,
    deleted when the job ends."""

    class Meta(KefuModel.Meta):
        table_name = JOBS_TABLE

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True, default=RUNNER)
    job_id = UnicodeAttribute()
    lease_until = NumberAttribute()  # epoch ms

    @classmethod
    def take(cls, shop_id: str, job_id: str, now: int, lease_ms: int) -> bool:
        """True when this job holds the shop's runner until now + lease_ms."""
        from pynamodb.exceptions import PutError

        item = cls(shop_id, job_id=job_id, lease_until=now + lease_ms)
        free = cls.sk.does_not_exist() | (cls.job_id == job_id) | (cls.lease_until < now)
        try:
            item.save(condition=free)
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @classmethod
    def release(cls, shop_id: str, job_id: str) -> None:
        from pynamodb.exceptions import DeleteError

        try:
            cls(shop_id).delete(condition=cls.job_id == job_id)
        except DeleteError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise


class JobSettings(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = JOBS_TABLE

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True, default=SETTINGS)
    approval_threshold = NumberAttribute()
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute(null=True)
