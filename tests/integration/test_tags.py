"""Tags through the local stack: an auto-tag rule fires from a customer's message (intake ->
EventBridge -> the tagging queue -> the tagging function), and a bulk tag job runs in the job
worker (the jobs queue) with its progress readable while and after it runs."""

from __future__ import annotations

import time

import pytest
from kefu.tags.rules_admin import REVISION_TTL_S

from tests.integration.kefu_http import Api, unique, wait_for

pytestmark = pytest.mark.integration


def _tag(api: Api, owner: str, name: str) -> str:
    made = api.post("/v1/tags", owner, json={"name": name, "colour": "#FF6A00"})
    assert made.status_code == 201, made.text
    return made.json()["tag_id"]


def test_an_auto_tag_rule_fires_from_a_message(api: Api, owner: str):
    keyword = unique("标签词")
    tag_id = _tag(api, owner, unique("想退货"))
    rule = api.post(
        "/v1/tag-rules",
        owner,
        json={
            "name": "退货意向",
            "trigger": {"kind": "keyword", "keywords": [keyword]},
            "tag_ids": [tag_id],
        },
    )
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["rule_id"]
    # A rule change reaches the tagging function within REVISION_TTL_S; the shop's first keyword
    # rule reaches intake's cached profile (data.tagging) at once here, where the tags API and
    # intake share one process, and within its minute on AWS (docs/tags.md).
    time.sleep(REVISION_TTL_S)
    customer = api.customer_login("demo", unique("tagging"))
    api.customer_says(customer["token"], f"你好，{keyword}，怎么办")
    customer_id = customer["customer_id"]

    def tagged() -> dict | None:
        got = api.get(f"/v1/customers/{customer_id}/tags/history", owner).json()
        return got if tag_id in got["tags"] else None

    history = wait_for(tagged, timeout=30, what="the tagging function to tag the customer")
    assert history["history"][0]["source"] == f"rule:{rule_id}"


def test_a_bulk_tag_job_runs_with_progress(api: Api, owner: str):
    tag_id = _tag(api, owner, unique("批量"))
    ids = [api.customer_login("demo", unique("bulk"))["customer_id"] for _ in range(3)]
    submitted = api.post(
        "/v1/jobs",
        owner,
        json={
            "kind": "tag",
            "selection": {"customer_ids": [*ids, "nobody"]},
            "params": {"tag_ids": [tag_id]},
        },
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]

    def finished() -> dict | None:
        got = api.get(f"/v1/jobs/{job_id}", owner).json()
        return got if got["status"] == "done" else None

    job = wait_for(finished, timeout=30, what="the job worker to finish the job")
    assert (job["total"], job["done"], job["failed"]) == (4, 3, 1)
    assert job["errors"] == [{"customer_id": "nobody", "reason": "customer_not_found"}]
    for customer_id in ids:
        got = api.get(f"/v1/customers/{customer_id}/tags/history", owner).json()
        assert got["tags"] == [tag_id]
        assert got["history"][0]["source"] == "staff:owner"
    usage = api.get(f"/v1/tags/{tag_id}", owner).json()
    assert usage["customers"] == 3
