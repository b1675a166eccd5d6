"""Specification: what one customer message answered by an agent costs in DynamoDB requests,
function by function (the figures `make bench` prints: infra.bench.pipeline), so a change that
adds a request fails here first:

  intake                2   the identity; the message, its conversation and its dedupe key
  notifier, received    3   the claim; the conversation (its assignee); the assignee's sockets
  tagging               0   a shop without auto-tag rules on messages: the message never reaches
                            it (intake leaves `data.tagging` unset; TaggingMessageRule selects
                            `tagging: true`)
  reply request         2   staff record + shop status + conversation; the reply's transaction
  notifier, reply       2   the claim; the customer's sockets (the agent's name is in the event)
  outbound              2   the claim with the call's record; the outcome
  notifier, delivered   1   the assignee's sockets (the assignee is in the event; no claim: the
                            frame only sets the message's delivery status, a repeat is harmless)
  total                12

A shop with keyword rules: tagging 1 (the rules' revision, re-read at most once a second per
instance; 0 while cached; the rules' Query only after a change), total 13.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import botocore.client
import pytest
from moto.events.models import EventPattern

from infra.local.template import load_yaml
from tests.support.factories import make_shop
from tests.support.wechat import wechat_standin
from tests.unit.functions.test_intake_api import _push, _text_push
from tests.unit.realtime.test_notifier_once import _record

ROOT = Path(__file__).resolve().parents[3]
OPENID = "oPipelineCustomer0001"
# The SQS message each event arrives in (distinct: the notifier claims by message).
EVENT_RECORD = {"message.received": 1, "reply.created": 2, "message.delivered": 3}


class Ctx:
    function_name = "pipeline"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pipeline"
    aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def _function(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_app_pipeline", ROOT / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def requests_made(monkeypatch):
    """DynamoDB requests made through botocore (pynamodb's included), by operation."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


@pytest.fixture
def pipeline(kefu_env, gateway, staff_token, monkeypatch):
    """A conversation held by agent1; WeChat in process."""
    make_shop("shop-a")
    with wechat_standin(monkeypatch, shops=("shop-a",)):
        token = staff_token("shop-a", "agent1", "agent")
        _say(gateway, "你好，想问问尺码", 6054768590064700001)
        (received,) = kefu_env.events("message.received")
        conv = received["data"]["conversation_id"]
        claimed = gateway.post(f"/v1/conversations/{conv}/claim", token=token)
        assert claimed.status == 200, claimed.text
        # A warm outbound instance: its WeChat access token is cached (a fresh one reads it).
        _reply(gateway, token, conv, "您好")
        _deliver(kefu_env.events("reply.created")[-1])
        yield gateway, token, conv


def _reply(gateway, token: str, conv: str, text: str) -> None:
    answer = gateway.post(
        f"/v1/conversations/{conv}/replies", token=token, json_body={"type": "text", "text": text}
    )
    assert answer.status == 201, answer.text


def _deliver(detail: dict) -> None:
    answer = _function("functions/outbound").handler({"Records": [_record(7, detail)]}, Ctx())
    assert answer == {"batchItemFailures": []}


def _say(gateway, text: str, msg_id: int) -> None:
    query, body, content_type = _push(
        _text_push(OPENID, msg_id=msg_id, text=text), fmt="xml", secure=True
    )
    answer = gateway.post(
        "/v1/wechat/shop-a/push", query=query, body=body, headers={"Content-Type": content_type}
    )
    assert (answer.status, answer.text) == (200, "success")


def _reaches_tagging(detail: dict) -> bool:
    """Whether an event would reach the tagging queue: the template's rules that target it,
    matched as EventBridge matches (moto's matcher, which the local stack uses)."""
    resources = load_yaml(ROOT / "template.yaml")["Resources"]
    envelope = {"source": "kefu.intake", "detail-type": detail["type"], "detail": detail}
    return any(
        EventPattern.load(json.dumps(r["Properties"]["EventPattern"])).matches_event(envelope)
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        for t in r["Properties"]["Targets"]
        if t["Arn"] == {"Fn::GetAtt": ["TaggingQueue", "Arn"]}
    )


def _measured(requests_made: list[str], run) -> list[str]:
    requests_made.clear()
    run()
    return list(requests_made)


def test_one_customer_message_answered_by_an_agent_costs_12_requests(
    pipeline, kefu_env, requests_made
):
    gateway, token, conv = pipeline
    notifier = _function("functions/notifier")

    def notify(event_type: str) -> None:
        detail = kefu_env.events(event_type)[-1]
        answer = notifier.handler({"Records": [_record(EVENT_RECORD[event_type], detail)]}, Ctx())
        assert answer == {"batchItemFailures": []}

    intake = _measured(requests_made, lambda: _say(gateway, "M 码还有吗？", 6054768590064700002))
    on_received = _measured(requests_made, lambda: notify("message.received"))
    assert not _reaches_tagging(kefu_env.events("message.received")[-1])  # tagging: 0

    replied = _measured(requests_made, lambda: _reply(gateway, token, conv, "有的"))
    on_reply = _measured(requests_made, lambda: notify("reply.created"))

    created = kefu_env.events("reply.created")[-1]
    delivered = _measured(requests_made, lambda: _deliver(created))
    last = kefu_env.events("message.delivered")[-1]
    assert last["data"]["message_id"] == created["data"]["message_id"]
    on_delivered = _measured(requests_made, lambda: notify("message.delivered"))

    assert intake == ["GetItem", "TransactWriteItems"]
    assert on_received == ["PutItem", "GetItem", "Query"]
    assert replied == ["BatchGetItem", "TransactWriteItems"]
    assert on_reply == ["PutItem", "Query"]
    assert delivered == ["UpdateItem", "UpdateItem"], delivered
    assert on_delivered == ["Query"]
    everything = intake + on_received + replied + on_reply + delivered + on_delivered
    assert len(everything) == 12


def test_the_events_carry_what_the_notifier_would_otherwise_read(pipeline, kefu_env):
    gateway, token, conv = pipeline
    _reply(gateway, token, conv, "有的")
    created = kefu_env.events("reply.created")[-1]
    assert created["data"]["assignee"] == "agent1"
    assert set(created["data"]["sender"]) == {"type", "id", "name"}
    assert created["data"]["sender"]["id"] == "agent1"


def test_the_reply_requests_one_read_still_refuses_a_disabled_agent_at_once(pipeline):
    from kefu.storage.shops import StaffMember

    gateway, token, conv = pipeline
    StaffMember.get("shop-a", StaffMember.key("agent1")).update(
        actions=[StaffMember.status.set("disabled")]
    )
    answer = gateway.post(
        f"/v1/conversations/{conv}/replies", token=token, json_body={"type": "text", "text": "在"}
    )
    assert (answer.status, answer.error["code"]) == (403, "staff_disabled")


def test_a_reply_to_a_conversation_of_another_agent_or_none_is_refused_as_before(
    pipeline, staff_token
):
    gateway, _, conv = pipeline
    other = staff_token("shop-a", "agent2", "agent")
    answer = gateway.post(
        f"/v1/conversations/{conv}/replies", token=other, json_body={"type": "text", "text": "在"}
    )
    assert (answer.status, answer.error["code"]) == (403, "not_your_conversation")
    missing = gateway.post(
        "/v1/conversations/cv_missing/replies",
        token=other,
        json_body={"type": "text", "text": "在"},
    )
    assert (missing.status, missing.error["code"]) == (404, "conversation_not_found")


def test_a_repeated_delivery_outcome_shows_the_same_status_again_and_adds_no_inbox_item(
    pipeline, kefu_env
):
    """The delivery outcome is handled without a claim: a redelivered copy pushes the same
    status frame (the client keys it by message id) and leaves the staff inbox as it was."""
    from kefu.storage.inbox import InboxItem

    gateway, token, conv = pipeline
    notifier = _function("functions/notifier")
    _reply(gateway, token, conv, "有的")
    _deliver(kefu_env.events("reply.created")[-1])
    detail = kefu_env.events("message.delivered")[-1]

    def inbox() -> list[dict]:
        return sorted((i.attribute_values for i in InboxItem.scan()), key=repr)

    inbox_before = inbox()
    for _ in range(2):
        answer = notifier.handler({"Records": [_record(3, detail)]}, Ctx())
        assert answer == {"batchItemFailures": []}
    assert inbox() == inbox_before


def _keyword_rule(gateway, staff_token, keyword: str) -> None:
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = gateway.post("/v1/tags", token=sup, json_body={"name": "尺码"}).json()["tag_id"]
    rule = gateway.post(
        "/v1/tag-rules",
        token=sup,
        json_body={
            "name": "尺码",
            "trigger": {"kind": "keyword", "keywords": [keyword]},
            "tag_ids": [tag_id],
        },
    )
    assert rule.status == 201, rule.text


def test_a_shop_with_keyword_rules_pays_one_request_for_tagging_when_the_revision_is_cold(
    pipeline, kefu_env, requests_made, staff_token
):
    from kefu.tags import rules_admin

    gateway, _, _ = pipeline
    tagging = _function("functions/tagging")
    _keyword_rule(gateway, staff_token, "退货")
    _say(gateway, "M 码还有吗？", 6054768590064700003)
    received = kefu_env.events("message.received")[-1]
    assert received["data"]["tagging"] is True and _reaches_tagging(received)

    def tag(n: int) -> None:
        answer = tagging.handler({"Records": [_record(10 + n, received)]}, Ctx())
        assert answer == {"batchItemFailures": []}

    assert _measured(requests_made, lambda: tag(0)) == ["GetItem", "Query"]  # after a change
    rules_admin._revisions.clear()  # a second later: the revision's cache has expired
    assert _measured(requests_made, lambda: tag(1)) == ["GetItem"]  # the 13th request
    assert _measured(requests_made, lambda: tag(2)) == []  # within the second


def test_other_events_reach_tagging_whatever_the_shops_rules():
    for kind in ("bot.replied", "shop.order_paid", "customer.tier_changed", "customer.updated"):
        assert _reaches_tagging({"type": kind, "shop_id": "shop-a", "data": {}}), kind
    message = {"type": "message.received", "shop_id": "shop-a", "data": {"bot": True}}
    assert not _reaches_tagging(message)
    assert _reaches_tagging({**message, "data": {"tagging": True}})
