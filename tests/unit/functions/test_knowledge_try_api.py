"""Specification: "try the bot" (POST /v1/knowledge/try) answers a question from the published
knowledge base only, read-only, with the shop's thresholds — what the console's try box shows."""

from tests.unit.functions.test_knowledge_api import ENTRY, publisher, shops  # noqa: F401


def test_only_the_published_knowledge_base_answers_and_nothing_is_counted(
    gateway,
    staff_token,
    shops,  # noqa: F811
    publisher,  # noqa: F811
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    agent = staff_token("shop-a", "xiaowang", "agent")
    created = gateway.post("/v1/knowledge/entries", token=sup, json_body=ENTRY)
    assert created.status == 201, created.text
    eid = created.json()["entry_id"]

    before = gateway.post("/v1/knowledge/try", token=agent, json_body={"text": "如何退货"})
    assert before.status == 200, before.text
    assert before.json()["outcome"] == "none"
    assert before.json()["published_versions"]["shop"] is None

    assert gateway.post("/v1/knowledge/publish", token=sup).status == 202
    assert publisher() == [{"batchItemFailures": []}]

    tried = gateway.post("/v1/knowledge/try", token=agent, json_body={"text": "如何退货"})
    assert tried.status == 200, tried.text
    answer = tried.json()
    assert answer["outcome"] == "answer"
    assert answer["replies"][0] == {"type": "text", "content": {"text": "签收 7 天内可无理由退货"}}
    assert answer["candidates"][0]["entry_id"] == eid
    assert answer["candidates"][0]["scope"] == "shop"
    assert answer["published_versions"]["shop"] == 1

    unrelated = gateway.post("/v1/knowledge/try", token=agent, json_body={"text": "今天天气"})
    assert unrelated.json()["outcome"] == "none" and unrelated.json()["replies"] == []
    # Read-only: the try counted no hit on the entry.
    assert gateway.get(f"/v1/knowledge/entries/{eid}", token=agent).json()["hits"] == 0


def test_bad_text_is_a_clear_400(gateway, staff_token, shops):  # noqa: F811
    agent = staff_token("shop-a", "xiaowang", "agent")
    blank = gateway.post("/v1/knowledge/try", token=agent, json_body={"text": "  "})
    assert (blank.status, blank.error["code"]) == (400, "validation_error")
    unknown = gateway.post("/v1/knowledge/try", token=agent, json_body={"text": "x", "k": 1})
    assert unknown.status == 400
