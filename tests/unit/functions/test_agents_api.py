"""Specification: the agents function over HTTP — supervisors define queues and routing rules,
agents set their own status, supervisors see the floor's load; and the routing function, fed an
SQS batch as Lambda feeds it, assigns the routed conversation."""

import json

import pytest

from tests.support.factories import customer_says, make_shop
from tests.support.routing import opened_event


@pytest.fixture
def floor(kefu_env, staff_token):
    make_shop("shop-a")
    return {
        "sup": staff_token("shop-a", "sup", "supervisor"),
        "wang": staff_token("shop-a", "wang", "agent"),
    }


def _sqs(detail: dict) -> dict:
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": json.dumps(
                    {"detail-type": detail["type"], "source": "kefu.intake", "detail": detail}
                ),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:routing",
                "awsRegion": "us-east-1",
            }
        ]
    }


def test_supervisors_set_up_queues_and_rules_and_routing_assigns_by_them(gateway, floor):
    sup, wang = floor["sup"], floor["wang"]
    queues = gateway.get("/v1/queues", token=sup)
    assert queues.status == 200, queues.text
    assert [q["queue_id"] for q in queues.json()["queues"]] == ["default"]
    made = gateway.post(
        "/v1/queues",
        token=sup,
        json_body={"queue_id": "logistics", "name": "物流", "members": ["wang"]},
    )
    assert made.status == 201, made.text
    rules = gateway.request(
        "PUT",
        "/v1/routing/rules",
        token=sup,
        json_body={
            "version": 0,
            "rules": [
                {
                    "rule_id": "ship",
                    "queue": "logistics",
                    "priority": 3,
                    "conditions": {"keywords": ["快递"]},
                }
            ],
        },
    )
    assert rules.status == 200, rules.text
    assert rules.json()["version"] == 1
    stale = gateway.request(
        "PUT", "/v1/routing/rules", token=sup, json_body={"version": 0, "rules": []}
    )
    assert (stale.status, stale.error["code"]) == (409, "stale")
    online = gateway.request(
        "PUT", "/v1/agents/me/status", token=wang, json_body={"status": "online", "capacity": 2}
    )
    assert online.status == 200, online.text

    cid = customer_says("shop-a", "o1", "我的快递呢").conversation_id
    from tests.unit.functions.conftest import LambdaContext, _handler

    result = _handler("RoutingFunction")(
        _sqs(opened_event("shop-a", cid, content={"text": "我的快递呢"})), LambdaContext("routing")
    )
    assert result == {"batchItemFailures": []}
    conv = gateway.get(f"/v1/conversations/{cid}", token=sup).json()
    assert (conv["assignee"], conv["queue"], conv["priority"]) == ("wang", "logistics", 3)
    agents = gateway.get("/v1/agents", token=sup).json()["agents"]
    assert [(a["username"], a["active"], a["load"]) for a in agents] == [("wang", 1, 0.5)]


def test_agents_cannot_manage_the_floor_and_bad_bodies_are_clear_400s(gateway, floor):
    wang = floor["wang"]
    assert gateway.get("/v1/agents", token=wang).status == 403
    assert (
        gateway.post("/v1/queues", token=wang, json_body={"queue_id": "x", "name": "x"}).status
        == 403
    )
    bad = gateway.request("PUT", "/v1/agents/me/status", token=wang, json_body={"status": "busy"})
    assert (bad.status, bad.error["code"]) == (400, "validation_error")
    rule = {"rule_id": "r", "queue": "nowhere"}
    unknown = gateway.request(
        "PUT", "/v1/routing/rules", token=floor["sup"], json_body={"rules": [rule]}
    )
    assert (unknown.status, unknown.error["code"]) == (400, "queue_not_found")


def test_an_agent_transfers_their_conversation_to_a_queue_with_a_note(gateway, floor):
    sup, wang = floor["sup"], floor["wang"]
    gateway.request("PUT", "/v1/agents/me/status", token=wang, json_body={"status": "online"})
    gateway.post("/v1/queues", token=sup, json_body={"queue_id": "after-sales", "name": "售后"})
    cid = customer_says("shop-a", "o1", "退货").conversation_id
    assert gateway.post(f"/v1/conversations/{cid}/claim", token=wang).status == 200
    moved = gateway.post(
        f"/v1/conversations/{cid}/transfer",
        token=wang,
        json_body={"to_queue": "after-sales", "note": "转售后"},
    )
    assert moved.status == 200, moved.text
    assert (moved.json()["status"], moved.json()["queue"], moved.json()["transfer_note"]) == (
        "queued",
        "after-sales",
        "转售后",
    )
    both = gateway.post(f"/v1/conversations/{cid}/transfer", token=sup, json_body={"note": "x"})
    assert (both.status, both.error["code"]) == (400, "invalid_target")
