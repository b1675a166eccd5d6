"""Specification: the CRM functions' policies in template.yaml allow exactly what their code does
on the CRM paths that cross parts — a bulk tag job over a saved segment (the job worker reads the
segment index), the customer list filtered by tag / tier / segment, a merge that carries tags
(the customers function writes tag history). Every DynamoDB call made is checked against the
function's statements (tests/support/iam.py): moto does not enforce IAM."""

import os

import boto3
import pytest
from kefu.jobs import worker
from kefu.segments.rebuild import rebuild
from kefu.storage.customers import Customer

from tests.support.factories import make_customer, make_shop
from tests.support.iam import allowed, denied, dynamodb_calls


@pytest.fixture
def shop(kefu_env, monkeypatch):
    make_shop("shop-a")
    for n, spent in enumerate([0, 30_000, 50_000, 1_000]):
        make_customer("shop-a", f"cus-{n}")
        Customer(shop_id="shop-a", sk=Customer.key(f"cus-{n}")).update(
            actions=[Customer.total_spent.set(spent), Customer.last_contact_at.set(n + 1)]
        )
    rebuild("shop-a")
    url = boto3.client("sqs").create_queue(QueueName="jobs-policy-test")["QueueUrl"]
    monkeypatch.setenv("JOBS_QUEUE_URL", url)


def _segment(gateway, token: str) -> str:
    answer = gateway.post(
        "/v1/segments",
        token=token,
        json_body={"name": "高消费", "filter": {"spend": {"gte": 20_000}}},
    )
    assert answer.status == 201, answer.text
    return answer.json()["segment_id"]


def test_the_policy_checker_refuses_what_a_statement_does_not_grant():
    assert allowed("JobWorkerFunction", "BatchGetItem", "SegmentsTable")
    assert not allowed("JobWorkerFunction", "PutItem", "SegmentsTable")
    assert not allowed("JobWorkerFunction", "Scan", "CustomersTable")


def test_a_segment_tag_job_does_only_what_the_job_worker_may(gateway, staff_token, shop):
    owner = staff_token("shop-a", "boss", "owner")
    segment_id = _segment(gateway, owner)
    tag = gateway.post("/v1/tags", token=owner, json_body={"name": "高价值"}).json()["tag_id"]
    with dynamodb_calls() as submit_calls:
        job = gateway.post(
            "/v1/jobs",
            token=owner,
            json_body={
                "kind": "tag",
                "selection": {"segment_id": segment_id},
                "params": {"tag_ids": [tag]},
            },
        ).json()
    with dynamodb_calls() as worker_calls:
        assert worker.run("shop-a", job["job_id"], lambda: 60_000)["outcome"] == "done"
    tagged = {
        c: list(Customer.get("shop-a", Customer.key(c)).tags or [])
        for c in ("cus-1", "cus-2", "cus-3")
    }
    assert tagged == {"cus-1": [tag], "cus-2": [tag], "cus-3": []}
    segments_table = os.environ["SEGMENTS_TABLE"]
    assert {a for a, t, _ in worker_calls if t == segments_table} >= {"GetItem", "BatchGetItem"}
    assert denied("JobsFunction", submit_calls) == []
    assert denied("JobWorkerFunction", worker_calls) == []


def test_the_filtered_customer_list_does_only_what_the_customers_function_may(
    gateway, staff_token, shop
):
    owner = staff_token("shop-a", "boss", "owner")
    segment_id = _segment(gateway, owner)
    with dynamodb_calls() as calls:
        listed = gateway.get(
            "/v1/customers", token=owner, query={"segment": segment_id, "sort": "spend"}
        )
    assert listed.status == 200, listed.text
    assert [c["customer_id"] for c in listed.json()["customers"]] == ["cus-2", "cus-1"]
    assert denied("CustomersFunction", calls) == []


def test_a_merge_carrying_tags_does_only_what_the_customers_function_may(
    gateway, staff_token, shop
):
    owner = staff_token("shop-a", "boss", "owner")
    tag = gateway.post("/v1/tags", token=owner, json_body={"name": "老客"}).json()["tag_id"]
    put_on = gateway.post("/v1/customers/cus-3/tags", token=owner, json_body={"tag_ids": [tag]})
    assert put_on.status == 200, put_on.text
    with dynamodb_calls() as calls:
        merged = gateway.post(
            "/v1/customers/cus-2/merge", token=owner, json_body={"merge_id": "cus-3"}
        )
    assert merged.status == 200, merged.text
    assert list(Customer.get("shop-a", Customer.key("cus-2")).tags or []) == [tag]
    assert denied("CustomersFunction", calls) == []
