"""Specification: background jobs — a bulk operation submitted over HTTP runs a chunk at a time in
the job worker, with progress and the first errors; a crash resumes from the last finished
chunk without counting or changing anything twice; it is audited once with its size; a job
over the shop's threshold waits for the owner; bad input is a 400 and writes nothing."""

import json
import sys
import types

import boto3
import pytest
from kefu.audit import list_audit
from kefu.jobs import worker
from kefu.storage import jobs as job_storage
from kefu.storage.customers import Customer
from kefu.storage.tags import TagHistoryItem

from tests.support.factories import make_customer, make_shop, make_staff

JOBS = "/v1/jobs"


@pytest.fixture
def queue(kefu_env, monkeypatch):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="jobs-test")["QueueUrl"]
    monkeypatch.setenv("JOBS_QUEUE_URL", url)

    def drain() -> list[dict]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]

    return drain


@pytest.fixture
def shop(kefu_env):
    make_shop("shop-a")
    for n in range(5):
        make_customer("shop-a", f"cus-{n}")


def _tag(gateway, token: str, name: str = "复购") -> str:
    answer = gateway.post("/v1/tags", token=token, json_body={"name": name})
    assert answer.status == 201, answer.text
    return answer.json()["tag_id"]


def _run(job_id: str) -> dict:
    return worker.run("shop-a", job_id, lambda: 60_000)


def _tags(customer_id: str) -> list[str]:
    return list(Customer.get("shop-a", Customer.key(customer_id)).tags or [])


def test_a_bulk_tag_job_runs_with_progress_errors_and_one_audit_record(
    gateway, staff_token, shop, queue, monkeypatch
):
    monkeypatch.setattr(job_storage, "CHUNK_SIZE", 2)
    monkeypatch.setattr("kefu.jobs.CHUNK_SIZE", 2)
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = _tag(gateway, sup)
    ids = ["cus-0", "cus-1", "cus-2", "nobody"]

    submitted = gateway.post(
        JOBS,
        token=sup,
        json_body={
            "kind": "tag",
            "selection": {"customer_ids": ids},
            "params": {"tag_ids": [tag_id]},
        },
    )
    assert submitted.status == 202, submitted.text
    job = submitted.json()
    assert (job["status"], job["total"], job["done"]) == ("queued", 4, 0)
    assert queue() == [{"shop_id": "shop-a", "job_id": job["job_id"]}]

    assert _run(job["job_id"])["outcome"] == "done"
    done = gateway.get(f"{JOBS}/{job['job_id']}", token=sup).json()
    assert (done["status"], done["done"], done["failed"]) == ("done", 3, 1)
    assert done["errors"] == [{"customer_id": "nobody", "reason": "customer_not_found"}]
    assert [_tags(c) for c in ids[:3]] == [[tag_id]] * 3 and _tags("cus-3") == []
    history = list(TagHistoryItem.query(TagHistoryItem.partition("shop-a", "cus-1")))
    assert [(h.action, h.source) for h in history] == [("added", "staff:laoli")]
    assert gateway.get(f"/v1/tags/{tag_id}", token=sup).json()["customers"] == 3

    audit = list_audit("shop-a", target=("job", job["job_id"]))[0]
    assert [
        (r["action"], (r["after"] or {}).get("size", r["after"].get("total"))) for r in audit
    ] == [
        ("job.completed", 4),
        ("job.submitted", 4),
    ]
    assert list_audit("shop-a", target=("customer", "cus-1"))[0] == []  # one operation, not 3
    listed = gateway.get(JOBS, token=sup, query={"status": "done"}).json()["jobs"]
    assert [j["job_id"] for j in listed] == [job["job_id"]]


def test_a_crash_resumes_from_the_last_finished_chunk_and_changes_nothing_twice(
    gateway, staff_token, shop, queue, monkeypatch
):
    monkeypatch.setattr(job_storage, "CHUNK_SIZE", 2)
    monkeypatch.setattr("kefu.jobs.CHUNK_SIZE", 2)
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = _tag(gateway, sup)
    ids = [f"cus-{n}" for n in range(5)]
    job_id = gateway.post(
        JOBS,
        token=sup,
        json_body={
            "kind": "tag",
            "selection": {"customer_ids": ids},
            "params": {"tag_ids": [tag_id]},
        },
    ).json()["job_id"]

    from kefu.tags import bulk

    real = bulk.JOB_KINDS["tag"].run_chunk
    calls = []

    def crash_after_second_chunk_ran(job, units):
        calls.append(units)
        outcome = real(job, units)
        if len(calls) == 2:
            raise RuntimeError("the instance died before recording the chunk")
        return outcome

    monkeypatch.setitem(
        bulk.JOB_KINDS,
        "tag",
        bulk.JobKind("tag", bulk.JOB_KINDS["tag"].check, crash_after_second_chunk_ran),
    )
    with pytest.raises(RuntimeError):
        _run(job_id)
    half = job_storage.Job.get("shop-a", job_storage.Job.key(job_id))
    assert (half.status, half.next_chunk, half.done) == ("running", 1, 2)
    assert _tags("cus-3") == [tag_id]  # the second chunk's work was done, not recorded

    assert _run(job_id)["outcome"] == "done"  # SQS redelivers: it resumes at chunk 1
    finished = job_storage.Job.get("shop-a", job_storage.Job.key(job_id))
    assert (finished.status, finished.done, finished.failed) == ("done", 5, 0)
    assert calls == [["cus-0", "cus-1"], ["cus-2", "cus-3"], ["cus-2", "cus-3"], ["cus-4"]]
    history = list(TagHistoryItem.query(TagHistoryItem.partition("shop-a", "cus-3")))
    assert len(history) == 1  # the replayed chunk wrote nothing new
    assert gateway.get(f"/v1/tags/{tag_id}", token=sup).json()["customers"] == 5


def test_a_job_over_the_threshold_waits_for_the_owner(gateway, staff_token, shop, queue):
    owner = staff_token("shop-a", "boss", "owner")
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = _tag(gateway, owner)
    threshold = gateway.request(
        "PUT", "/v1/job-settings", token=owner, json_body={"approval_threshold": 2}
    )
    assert threshold.status == 200, threshold.text
    not_owner = gateway.request(
        "PUT", "/v1/job-settings", token=sup, json_body={"approval_threshold": 9}
    )
    assert not_owner.status == 403
    body = {
        "kind": "tag",
        "selection": {"customer_ids": ["cus-0", "cus-1", "cus-2"]},
        "params": {"tag_ids": [tag_id]},
    }

    waiting = gateway.post(JOBS, token=sup, json_body=body).json()
    assert (waiting["status"], waiting["approval_required"]) == ("awaiting_approval", True)
    assert queue() == []
    assert _run(waiting["job_id"])["outcome"] == "awaiting_approval"
    assert _tags("cus-0") == []
    own = gateway.post(f"{JOBS}/{waiting['job_id']}/approve", token=sup)
    assert (own.status, own.error["code"]) == (403, "permission_denied")

    approved = gateway.post(f"{JOBS}/{waiting['job_id']}/approve", token=owner)
    assert approved.status == 200 and approved.json()["decided_by"] == "staff:boss"
    assert queue() == [{"shop_id": "shop-a", "job_id": waiting["job_id"]}]
    assert _run(waiting["job_id"])["outcome"] == "done"
    assert _tags("cus-2") == [tag_id]
    again = gateway.post(f"{JOBS}/{waiting['job_id']}/approve", token=owner)
    assert (again.status, again.error["code"]) == (409, "not_awaiting")

    other = gateway.post(JOBS, token=sup, json_body=body).json()
    rejected = gateway.post(f"{JOBS}/{other['job_id']}/reject", token=owner).json()
    assert rejected["status"] == "rejected"
    owners_own = gateway.post(JOBS, token=owner, json_body=body).json()
    assert owners_own["status"] == "queued"  # the owner is the approver: no second click
    actions = [r["action"] for r in list_audit("shop-a", target=("job", other["job_id"]))[0]]
    assert actions == ["job.rejected", "job.submitted"]


def test_a_segment_job_is_planned_by_the_worker_then_waits_if_large(
    gateway, staff_token, shop, queue, monkeypatch
):
    segments = types.ModuleType("kefu.segments")
    segments.members = lambda shop_id, segment_id: iter(["cus-1", "cus-2", "cus-1"])
    monkeypatch.setitem(sys.modules, "kefu.segments", segments)
    owner = staff_token("shop-a", "boss", "owner")
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = _tag(gateway, owner)
    gateway.request("PUT", "/v1/job-settings", token=owner, json_body={"approval_threshold": 1})

    job = gateway.post(
        JOBS,
        token=sup,
        json_body={
            "kind": "tag",
            "selection": {"segment_id": "seg-1"},
            "params": {"tag_ids": [tag_id]},
        },
    ).json()
    assert (job["status"], job["total"]) == ("queued", None)
    assert _run(job["job_id"])["outcome"] == "awaiting_approval"
    planned = gateway.get(f"{JOBS}/{job['job_id']}", token=sup).json()
    assert (planned["status"], planned["total"]) == ("awaiting_approval", 2)
    gateway.post(f"{JOBS}/{job['job_id']}/approve", token=owner)
    assert _run(job["job_id"])["outcome"] == "done"
    assert (_tags("cus-1"), _tags("cus-2"), _tags("cus-3")) == ([tag_id], [tag_id], [])


def _define_vip_level() -> None:
    """The shop's custom attribute vip_level: a number."""
    from kefu.auth.actors import StaffActor
    from kefu.customers.attributes import NewAttribute, create_attribute

    create_attribute(
        StaffActor("shop-a", "boss", "owner"),
        NewAttribute(attribute_id="vip_level", name="会员等级", type="number"),
    )


def test_set_owner_agent_and_set_attribute(gateway, staff_token, shop, queue):
    _define_vip_level()
    sup = staff_token("shop-a", "laoli", "supervisor")
    make_staff("shop-a", "xiaowang", "agent")
    owner_job = gateway.post(
        JOBS,
        token=sup,
        json_body={
            "kind": "set_owner_agent",
            "selection": {"customer_ids": ["cus-0", "cus-1"]},
            "params": {"owner_agent": "xiaowang"},
        },
    ).json()
    attr_job = gateway.post(
        JOBS,
        token=sup,
        json_body={
            "kind": "set_attribute",
            "selection": {"customer_ids": ["cus-1"]},
            "params": {"attribute_id": "vip_level", "value": 3},
        },
    ).json()
    assert _run(owner_job["job_id"])["outcome"] == "done"
    assert _run(attr_job["job_id"])["outcome"] == "done"
    raw = boto3.client("dynamodb").get_item(
        TableName=Customer.Meta.table_name,
        Key={"pk": {"S": "shop-a"}, "sk": {"S": Customer.key("cus-1")}},
    )["Item"]
    assert raw["owner_agent"] == {"S": "xiaowang"}
    assert raw["attributes"] == {"M": {"vip_level": {"N": "3"}}}

    # null takes it off again (and on a customer without attributes changes nothing).
    clear_job = gateway.post(
        JOBS,
        token=sup,
        json_body={
            "kind": "set_attribute",
            "selection": {"customer_ids": ["cus-1", "cus-2"]},
            "params": {"attribute_id": "vip_level", "value": None},
        },
    ).json()
    assert _run(clear_job["job_id"])["outcome"] == "done"
    cleared = gateway.get(f"{JOBS}/{clear_job['job_id']}", token=sup).json()
    assert (cleared["done"], cleared["failed"], cleared["errors"]) == (2, 0, [])
    raw = boto3.client("dynamodb").get_item(
        TableName=Customer.Meta.table_name,
        Key={"pk": {"S": "shop-a"}, "sk": {"S": Customer.key("cus-1")}},
    )["Item"]
    assert raw["attributes"] == {"M": {}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {
                "kind": "tag",
                "selection": {"customer_ids": ["cus-0"], "all": True},
                "params": {"tag_ids": ["tag_1700000000000a1b2c3d4e5"]},
            },
            "invalid_selection",
        ),
        ({"kind": "paint", "selection": {"all": True}}, "invalid_job_kind"),
        (
            {
                "kind": "tag",
                "selection": {"all": True},
                "params": {"tag_ids": ["tag_1700000000000a1b2c3d4e5"]},
            },
            "unknown_tag",
        ),
        (
            {
                "kind": "set_owner_agent",
                "selection": {"all": True},
                "params": {"owner_agent": "ghost"},
            },
            "unknown_agent",
        ),
        (
            {
                "kind": "set_attribute",
                "selection": {"all": True},
                "params": {"attribute_id": "Bad Id", "value": 1},
            },
            "unknown_attribute",
        ),
        (
            {
                "kind": "set_attribute",
                "selection": {"all": True},
                "params": {"attribute_id": "birthday_month", "value": 5},
            },
            "unknown_attribute",
        ),
        (
            {
                "kind": "set_attribute",
                "selection": {"all": True},
                "params": {"attribute_id": "vip_level", "value": {"a": 1}},
            },
            "invalid_attribute_value",
        ),
        (
            {
                "kind": "set_attribute",
                "selection": {"all": True},
                "params": {"attribute_id": "vip_level", "value": "三级"},
            },
            "invalid_attribute_value",
        ),
        (
            {"kind": "tag", "selection": {"customer_ids": ["x"] * 5001}, "params": {}},
            "validation_error",
        ),
    ],
)
def test_bad_jobs_are_400_and_write_nothing(gateway, staff_token, shop, queue, body, code):
    _define_vip_level()
    sup = staff_token("shop-a", "laoli", "supervisor")
    answer = gateway.post(JOBS, token=sup, json_body=body)
    assert (answer.status, answer.error["code"]) == (400, code)
    assert gateway.get(JOBS, token=sup).json()["jobs"] == []
    assert queue() == []


def test_agents_may_not_submit_or_read_jobs(gateway, staff_token, shop, queue):
    agent = staff_token("shop-a", "xiaowang", "agent")
    assert gateway.get(JOBS, token=agent).status == 403
    refused = gateway.post(JOBS, token=agent, json_body={"kind": "tag", "selection": {"all": True}})
    assert refused.status == 403


def test_one_job_of_a_shop_runs_at_a_time(gateway, staff_token, shop, queue, monkeypatch):
    from kefu.ids import now_ms
    from kefu.storage.jobs import JobRunner

    monkeypatch.setattr(worker, "WAIT_FOR_RUNNER_S", 0)  # (60 s in production)

    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = _tag(gateway, sup)
    body = {
        "kind": "tag",
        "selection": {"customer_ids": ["cus-0"]},
        "params": {"tag_ids": [tag_id]},
    }
    job_id = gateway.post(JOBS, token=sup, json_body=body).json()["job_id"]
    queue()
    assert JobRunner.take("shop-a", "job_other", now_ms(), 60_000)  # another job is running

    assert _run(job_id)["outcome"] == "waiting_for_another_job"
    assert _tags("cus-0") == []
    assert queue() == [{"shop_id": "shop-a", "job_id": job_id}]  # looked at again later

    JobRunner.release("shop-a", "job_other")
    assert _run(job_id)["outcome"] == "done"
    assert _tags("cus-0") == [tag_id]
    assert JobRunner.take("shop-a", "job_next", now_ms(), 60_000)  # released at the end
