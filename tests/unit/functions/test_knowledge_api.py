"""Specification: the knowledge function over HTTP — every route answers as documented, within the
caller's shop (or the platform's, for the platform's staff) and role; a publish is requested
(202) and built by the knowledge publisher, fed an SQS batch as Lambda feeds it."""

import base64
import json

import pytest

from tests.support.factories import make_shop

ENTRY = {
    "question": "怎么退货？",
    "similar_questions": ["如何退货", "退货流程是什么"],
    "answer": [
        {"type": "text", "content": "签收 7 天内可无理由退货"},
        {"type": "image", "url": "https://cdn.example.com/refund.png"},
    ],
    "category": "售后",
    "tags": ["退货"],
}


@pytest.fixture
def shops(kefu_env):
    from kefu.knowledge import published

    make_shop("mall-hq", mall_id="mall-hq")  # a mall's operator shop
    make_shop("shop-a", mall_id="mall-hq")
    make_shop("shop-b")
    published.clear_cache()
    yield
    published.clear_cache()


@pytest.fixture
def publisher(kefu_env):
    """publisher() -> the knowledge publisher's answers to the publishes requested since the last
    call, one SQS batch per record (its BatchSize is 1)."""
    from tests.unit.functions.conftest import LambdaContext, _handler

    done: set[str] = set()

    def run() -> list[dict]:
        new = [
            e for e in kefu_env.events("knowledge.publish_requested") if e["event_id"] not in done
        ]
        done.update(e["event_id"] for e in new)
        return [
            _handler("KnowledgePublisherFunction")(_sqs(e), LambdaContext("knowledge_publisher"))
            for e in new
        ]

    return run


def _sqs(detail: dict) -> dict:
    body = {"detail-type": detail["type"], "source": "kefu.knowledge", "detail": detail}
    return {
        "Records": [
            {
                "messageId": f"m-{detail['event_id']}",
                "receiptHandle": "r-1",
                "body": json.dumps(body, ensure_ascii=False),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:knowledge-publish",
                "awsRegion": "us-east-1",
            }
        ]
    }


def test_a_supervisor_writes_changes_and_publishes_while_an_agent_reads(
    gateway, staff_token, shops, publisher
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    agent = staff_token("shop-a", "xiaowang", "agent")

    created = gateway.post("/v1/knowledge/entries", token=sup, json_body=ENTRY)
    assert created.status == 201, created.text
    eid = created.json()["entry_id"]
    assert created.json()["revision"] == 1

    listed = gateway.get("/v1/knowledge/entries", token=agent, query={"q": "退货流程"})
    assert [e["entry_id"] for e in listed.json()["entries"]] == [eid]
    assert (
        gateway.get(f"/v1/knowledge/entries/{eid}", token=agent).json()["question"] == "怎么退货？"
    )

    changed = gateway.patch(
        f"/v1/knowledge/entries/{eid}",
        token=sup,
        json_body={"revision": 1, "similar_questions": ["如何退货", "能退吗"], "category": None},
    )
    assert changed.status == 200, changed.text
    assert (changed.json()["revision"], changed.json()["category"]) == (2, None)
    stale = gateway.patch(
        f"/v1/knowledge/entries/{eid}", token=sup, json_body={"revision": 1, "enabled": False}
    )
    assert (stale.status, stale.error["code"]) == (409, "revision_conflict")
    denied = gateway.patch(
        f"/v1/knowledge/entries/{eid}", token=agent, json_body={"revision": 2, "enabled": False}
    )
    assert denied.status == 403

    head = gateway.get("/v1/knowledge", token=agent).json()
    assert (head["draft_revision"], head["unpublished_changes"]) == (2, True)

    requested = gateway.post("/v1/knowledge/publish", token=sup)
    assert requested.status == 202, requested.text
    assert (requested.json()["status"], requested.json()["draft_revision"]) == ("publishing", 2)
    assert requested.json()["knowledge_base"]["published_version"] == 0
    again = gateway.post("/v1/knowledge/publish", token=sup)
    assert (again.status, again.json()) == (202, requested.json())
    assert gateway.post("/v1/knowledge/publish", token=agent).status == 403
    pending = gateway.get("/v1/knowledge", token=agent).json()
    assert (pending["publishing"], pending["publish_requested"]["requested_by"]) == (True, "laoli")

    assert publisher() == [{"batchItemFailures": []}]
    head = gateway.get("/v1/knowledge", token=agent).json()
    assert (head["publishing"], head["published_version"], head["publish_error"]) == (
        False,
        1,
        None,
    )
    assert head["unpublished_changes"] is False
    publishes = gateway.get("/v1/knowledge/publishes", token=agent).json()["publishes"]
    assert [p["version"] for p in publishes] == [1]
    done = gateway.post("/v1/knowledge/publish", token=sup)
    assert (done.status, done.json()["status"]) == (200, "published")

    versions = gateway.get(f"/v1/knowledge/entries/{eid}/versions", token=agent)
    assert [v["revision"] for v in versions.json()["versions"]] == [2, 1]

    deleted = gateway.request("DELETE", f"/v1/knowledge/entries/{eid}", token=sup)
    assert deleted.json() == {"entry_id": eid, "deleted": True, "revision": 3}
    assert gateway.get(f"/v1/knowledge/entries/{eid}", token=agent).status == 404
    restored = gateway.post(
        f"/v1/knowledge/entries/{eid}/versions/1/restore", token=sup, json_body={"revision": 3}
    )
    assert restored.status == 200, restored.text
    assert restored.json()["similar_questions"] == ["如何退货", "退货流程是什么"]

    assert gateway.post("/v1/knowledge/publish", token=sup).status == 202
    assert publisher() == [{"batchItemFailures": []}]
    rollback = gateway.post("/v1/knowledge/publishes/1/restore", token=sup)
    assert rollback.status == 201, rollback.text
    assert rollback.json()["publish"] == {
        **rollback.json()["publish"],
        "version": 3,
        "restored_from": 1,
    }
    assert gateway.post("/v1/knowledge/publishes/99/restore", token=sup).status == 404


def test_invalid_entries_are_refused_with_the_field_named(gateway, staff_token, shops):
    sup = staff_token("shop-a", "laoli", "supervisor")
    bad = gateway.post(
        "/v1/knowledge/entries",
        token=sup,
        json_body={**ENTRY, "answer": [{"type": "video", "media_id": "x"}]},
    )
    assert (bad.status, bad.error["code"]) == (400, "validation_error")
    assert "$.answer[0]" in bad.error["message"]
    image = gateway.post(
        "/v1/knowledge/entries", token=sup, json_body={**ENTRY, "answer": [{"type": "image"}]}
    )
    assert (image.status, image.error["code"]) == (400, "invalid_entry")


def test_another_shop_and_the_platform_scope_are_out_of_reach(
    gateway, staff_token, shops, publisher
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    other = staff_token("shop-b", "dazhang", "owner")
    ops = staff_token("mall-hq", "ops", "platform")
    eid = gateway.post("/v1/knowledge/entries", token=sup, json_body=ENTRY).json()["entry_id"]

    assert gateway.get(f"/v1/knowledge/entries/{eid}", token=other).status == 404
    assert gateway.get("/v1/knowledge/entries", token=other).json()["entries"] == []
    assert gateway.get("/v1/knowledge", token=sup, query={"scope": "platform"}).status == 403
    refused = gateway.post(
        "/v1/knowledge/entries", token=sup, json_body=ENTRY, query={"scope": "platform"}
    )
    assert refused.status == 403

    made = gateway.post(
        "/v1/knowledge/entries", token=ops, json_body=ENTRY, query={"scope": "platform"}
    )
    assert made.status == 201 and made.json()["scope"] == "platform/mall-hq"
    requested = gateway.post("/v1/knowledge/publish", token=ops, query={"scope": "platform"})
    assert (requested.status, requested.json()["scope"]) == (202, "platform/mall-hq")
    assert publisher() == [{"batchItemFailures": []}]
    platform = gateway.get("/v1/knowledge", token=ops, query={"scope": "platform"}).json()
    assert platform["index_key"].startswith("platform/mall-hq/kb/")
    # Acting on a seller of the mall (X-Kefu-Shop), the same mall's entries.
    on_seller = gateway.get(
        "/v1/knowledge", token=ops, query={"scope": "platform"}, headers={"X-Kefu-Shop": "shop-a"}
    )
    assert on_seller.json()["index_key"] == platform["index_key"]
    outside = gateway.get("/v1/knowledge", token=ops, headers={"X-Kefu-Shop": "shop-b"})
    assert (outside.status, outside.error["code"]) == (403, "shop_not_in_mall")
    assert gateway.get("/v1/knowledge", token=sup).json()["published_version"] == 0
    bad_scope = gateway.get("/v1/knowledge", token=sup, query={"scope": "everyone"})
    assert (bad_scope.status, bad_scope.error["code"]) == (400, "invalid_scope")


def test_import_export_and_dictionary_over_http(gateway, staff_token, shops):
    sup = staff_token("shop-a", "laoli", "supervisor")
    agent = staff_token("shop-a", "xiaowang", "agent")
    csv_text = "question,similar_questions,answer,tags\n怎么退货,如何退货|能退吗,七天无理由,售后\n"
    body = {
        "format": "csv",
        "content_base64": base64.b64encode(("\ufeff" + csv_text).encode()).decode(),
    }
    imported = gateway.post("/v1/knowledge/import", token=sup, json_body=body)
    assert imported.status == 200, imported.text
    assert (imported.json()["created"], imported.json()["entries"][0]["row"]) == (1, 2)
    assert gateway.post("/v1/knowledge/import", token=agent, json_body=body).status == 403

    broken = "question,answer\n运费,\n,没有问题\n"
    bad = gateway.post(
        "/v1/knowledge/import",
        token=sup,
        json_body={"format": "csv", "content_base64": base64.b64encode(broken.encode()).decode()},
    )
    assert (bad.status, bad.error["code"]) == (400, "invalid_import")
    assert [(e["row"], e["column"]) for e in bad.error["errors"]] == [
        (2, "answer"),
        (3, "question"),
    ]

    for fmt in ("csv", "xlsx"):
        exported = gateway.get("/v1/knowledge/export", token=agent, query={"format": fmt})
        assert exported.status == 200, exported.text
        again = gateway.post(
            "/v1/knowledge/import",
            token=sup,
            json_body={"format": fmt, "content_base64": exported.json()["content_base64"]},
        )
        assert again.json()["unchanged"] == 1, again.text
    assert gateway.get("/v1/knowledge/export", token=agent, query={"format": "pdf"}).status == 400

    words = gateway.request(
        "PUT", "/v1/knowledge/dictionary", token=sup, json_body={"words": ["小蓝瓶", "顺丰包邮"]}
    )
    assert words.status == 200, words.text
    assert gateway.get("/v1/knowledge/dictionary", token=agent).json()["words"] == [
        "小蓝瓶",
        "顺丰包邮",
    ]
    spaced = gateway.request(
        "PUT", "/v1/knowledge/dictionary", token=sup, json_body={"words": ["two words"]}
    )
    assert spaced.status == 400


def test_a_publish_that_cannot_succeed_shows_why_on_the_head(
    gateway, staff_token, shops, publisher
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    empty = gateway.post("/v1/knowledge/publish", token=sup)
    assert (empty.status, empty.error["code"]) == (409, "nothing_to_publish")

    off = gateway.post("/v1/knowledge/entries", token=sup, json_body={**ENTRY, "enabled": False})
    assert off.status == 201, off.text
    assert gateway.post("/v1/knowledge/publish", token=sup).status == 202
    # Not a retry: the record succeeds and the head says what went wrong.
    assert publisher() == [{"batchItemFailures": []}]

    head = gateway.get("/v1/knowledge", token=sup).json()
    assert (head["publishing"], head["published_version"]) == (False, 0)
    assert head["publish_error"]["draft_revision"] == 1
    assert "nothing to publish" in head["publish_error"]["message"]
