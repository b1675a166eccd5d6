"""Specification, against the local stack: the knowledge base served from template.yaml (its own
function with the bot layer, the knowledge bucket) — write, import, publish (built by the
knowledge publisher, polled), export."""

import base64

import pytest

from tests.integration.kefu_http import publish_knowledge, unique

pytestmark = pytest.mark.integration


def test_an_owner_builds_and_publishes_the_knowledge_base_an_agent_reads(api, owner, agent1):
    question = unique("怎么退货")
    created = api.post(
        "/v1/knowledge/entries",
        token=owner,
        json={
            "question": question,
            "similar_questions": ["如何退货"],
            "answer": [{"type": "text", "content": "七天无理由退货"}],
        },
    )
    assert created.status_code == 201, created.text
    eid = created.json()["entry_id"]

    rows = f"question,answer\n{unique('运费多少')},满 99 包邮\n".encode("utf-8-sig")
    imported = api.post(
        "/v1/knowledge/import",
        token=owner,
        json={"format": "csv", "content_base64": base64.b64encode(rows).decode()},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 1

    # Asynchronous: 202, then the knowledge publisher (EventBridge -> SQS) builds the index.
    published = publish_knowledge(api, owner)
    head = api.get("/v1/knowledge", token=agent1).json()
    assert head["published_version"] == published["published_version"]
    assert head["unpublished_changes"] is False
    latest = api.get("/v1/knowledge/publishes", token=agent1).json()["publishes"][0]
    assert (latest["version"], latest["published_by"]) == (head["published_version"], "owner")
    assert latest["entry_count"] >= 2
    assert api.post("/v1/knowledge/publish", token=agent1).status_code == 403

    exported = api.get("/v1/knowledge/export", token=agent1, params={"format": "xlsx"})
    assert exported.status_code == 200, exported.text
    assert exported.json()["entry_count"] >= 2
    assert api.get(f"/v1/knowledge/entries/{eid}", token=agent1).json()["question"] == question
