"""Handlers: GET/PUT /v1/tier-settings (owners and supervisors, validated, audited, versioned),
the bot's vip_tiers checked against the shop's tiers, the tiers consumer (an order event in an
SQS batch) and the nightly handler."""

from __future__ import annotations

import json
import time

import pytest
from kefu.audit import list_audit
from kefu.storage.customers import Customer

from tests.support.factories import customer_says, make_shop
from tests.unit.functions.conftest import LambdaContext, _handler


@pytest.fixture
def staff(kefu_env, staff_token):
    make_shop("shop-a")
    return {
        "sup": staff_token("shop-a", "sup", "supervisor"),
        "agent": staff_token("shop-a", "wang", "agent"),
    }


def test_supervisors_read_the_defaults_and_replace_them_audited(gateway, staff):
    shown = gateway.get("/v1/tier-settings", token=staff["sup"])
    assert shown.status == 200, shown.text
    assert [t["name"] for t in shown.json()["tiers"]] == [
        "高价值",
        "忠实",
        "流失",
        "沉睡",
        "新客",
        "活跃",
    ]
    assert (shown.json()["revision"], shown.json()["unscored_tier"]) == (0, "regular")

    body = {
        "revision": 0,
        "tiers": [
            {"tier_id": "vip", "name": "贵宾", "m": [4, 5]},
            {"tier_id": "fans", "name": "粉丝"},
        ],
        "points_enabled": True,
    }
    put = gateway.request("PUT", "/v1/tier-settings", token=staff["sup"], json_body=body)
    assert put.status == 200, put.text
    assert put.json()["revision"] == 1 and put.json()["points_enabled"] is True
    (record,) = list_audit("shop-a", target=("tier_settings", "shop-a"))[0]
    assert record["action"] == "tiers.settings_updated" and record["actor"] == "staff:sup"

    stale = gateway.request("PUT", "/v1/tier-settings", token=staff["sup"], json_body=body)
    assert (stale.status, stale.error["code"]) == (409, "stale")


def test_agents_may_not_read_or_change_the_tiers(gateway, staff):
    assert gateway.get("/v1/tier-settings", token=staff["agent"]).status == 403
    put = gateway.request("PUT", "/v1/tier-settings", token=staff["agent"], json_body={})
    assert put.status == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"tiers": [{"tier_id": "vip", "name": "贵宾", "r": [4, 5]}]}, "tiers_incomplete"),
        ({"tiers": [{"tier_id": "Bad Id", "name": "x"}]}, "validation_error"),
        ({"recency_days": [90, 30, 180, 365]}, "invalid_thresholds"),
        ({"points_per_yuan": -1}, "validation_error"),
        ({"colour": "red"}, "validation_error"),
    ],
)
def test_bad_settings_are_a_400_and_change_nothing(gateway, staff, body, code):
    put = gateway.request("PUT", "/v1/tier-settings", token=staff["sup"], json_body=body)
    assert (put.status, put.error["code"]) == (400, code)
    assert gateway.get("/v1/tier-settings", token=staff["sup"]).json()["revision"] == 0


def test_the_bots_vip_tiers_must_be_the_shops_tiers(gateway, staff):
    put = gateway.request(
        "PUT", "/v1/bot/settings", token=staff["sup"], json_body={"vip_tiers": ["svip"]}
    )
    assert (put.status, put.error["code"]) == (400, "unknown_tier")
    ok = gateway.request(
        "PUT", "/v1/bot/settings", token=staff["sup"], json_body={"vip_tiers": ["high_value"]}
    )
    assert ok.status == 200, ok.text


def _sqs(*details: dict) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": "r-1",
                "body": json.dumps(
                    {"detail-type": detail["type"], "source": "kefu.shop", "detail": detail}
                ),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:tiers",
                "awsRegion": "us-east-1",
            }
            for n, detail in enumerate(details, start=1)
        ]
    }


def _paid(customer_id: str) -> dict:
    return {
        "event_id": "shop.order_paid:e-1",
        "type": "shop.order_paid",
        "shop_id": "shop-a",
        "occurred_at": 1_700_000_000_000,
        "data": {
            "customer_id": customer_id,
            "shop_event_id": "e-1",
            "order_id": "SO-1",
            "order": {"order_id": "SO-1", "status": "paid", "amount": "99.00"},
        },
    }


def test_the_consumer_scores_the_customer_of_an_order_event(kefu_env, staff):
    customer_id = customer_says("shop-a", "o-1", "在吗").customer_id
    Customer("shop-a", Customer.key(customer_id)).update(
        actions=[
            Customer.orders_count.set(1),
            Customer.total_spent.set(9900),
            Customer.last_purchase_at.set(1_700_000_000_000),
        ]
    )
    result = _handler("TiersFunction")(_sqs(_paid(customer_id)), LambdaContext("tiers"))
    assert result == {"batchItemFailures": []}
    stored = Customer.get("shop-a", Customer.key(customer_id), consistent_read=True)
    assert stored.rfm.as_dict() == {"r": 1, "f": 1, "m": 1} and stored.tier == "lost"


def test_a_malformed_order_event_is_failed_for_the_dlq(kefu_env, staff):
    customer_id = customer_says("shop-a", "o-1", "在吗").customer_id
    malformed = {"event_id": "x", "type": "shop.order_paid", "shop_id": "shop-a", "data": {}}
    batch = _sqs(malformed, _paid(customer_id))
    result = _handler("TiersFunction")(batch, LambdaContext("tiers"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_the_nightly_handler_runs_every_shops_pass(kefu_env, staff):
    context = LambdaContext("nightly")
    context._deadline = time.monotonic() + 900  # the function's timeout
    with open("events/tiers/schedule.json", encoding="utf-8") as sample:
        totals = _handler("TiersNightlyFunction")(json.load(sample), context)
    assert totals["shops"] >= 1 and totals["finished"] == totals["shops"]
