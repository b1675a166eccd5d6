"""Specification: auto-tag rules over HTTP, and the tagging function applying them to the shop's
events — a keyword in a message, a paid order (category, amount, N orders in M days), a tier
change, an attribute's value — once per fact, with `rule:<rule_id>` as the tags' source; a
record that is not an event it can read fails alone (and ends in the DLQ); back-fill as a job."""

import json

import boto3
import pytest
from kefu.audit import list_audit
from kefu.ids import now_ms
from kefu.storage.customers import Customer
from kefu.storage.orders import Order, OrderLine, customer_key
from kefu.storage.tags import TagHistoryItem

from tests.support.factories import make_customer, make_shop
from tests.unit.functions.conftest import LambdaContext, _handler

RULES = "/v1/tag-rules"
DAY = 24 * 3600 * 1000


@pytest.fixture
def shop(kefu_env, monkeypatch):
    make_shop("shop-a")
    make_customer("shop-a", "cus-1")
    make_customer("shop-a", "cus-2", tier="high_value")
    url = boto3.client("sqs").create_queue(QueueName="jobs-test")["QueueUrl"]
    monkeypatch.setenv("JOBS_QUEUE_URL", url)


def _record(message_id: str, detail: dict) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"r-{message_id}",
        "body": json.dumps({"detail-type": detail.get("type"), "source": "kefu", "detail": detail}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:tagging",
        "awsRegion": "us-east-1",
    }


def _deliver(*details: dict) -> dict:
    records = [_record(f"m{n}", d) for n, d in enumerate(details)]
    return _handler("TaggingFunction")({"Records": records}, LambdaContext("tagging"))


def _event(kind: str, data: dict, event_id: str | None = None) -> dict:
    return {
        "event_id": event_id or f"{kind}:{now_ms()}",
        "type": kind,
        "shop_id": "shop-a",
        "occurred_at": now_ms(),
        "data": data,
    }


def _message(customer_id: str, text: str, message_id: str = "msg-1") -> dict:
    data = {
        "conversation_id": "conv-1",
        "message_id": message_id,
        "customer_id": customer_id,
        "type": "text",
        "content": {"text": text},
    }
    return _event("message.received", data, f"message.received:{message_id}")


def _tags(customer_id: str) -> list[str]:
    return list(Customer.get("shop-a", Customer.key(customer_id)).tags or [])


def _history(customer_id: str) -> list[tuple[str, str]]:
    items = TagHistoryItem.query(TagHistoryItem.partition("shop-a", customer_id))
    return [(h.tag_id, h.source) for h in items]


def _setup(gateway, token: str, trigger: dict, name: str = "标签") -> tuple[str, str]:
    tag_id = gateway.post("/v1/tags", token=token, json_body={"name": name}).json()["tag_id"]
    rule = gateway.post(
        RULES, token=token, json_body={"name": name, "trigger": trigger, "tag_ids": [tag_id]}
    )
    assert rule.status == 201, rule.text
    return tag_id, rule.json()["rule_id"]


def test_a_keyword_in_a_message_tags_the_customer_once(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id, rule_id = _setup(gateway, sup, {"kind": "keyword", "keywords": ["退款", "退货"]})

    assert _deliver(_message("cus-1", "你好，我要退货"), _message("cus-2", "在吗", "msg-2")) == {
        "batchItemFailures": []
    }
    assert _tags("cus-1") == [tag_id] and _tags("cus-2") == []
    assert _history("cus-1") == [(tag_id, f"rule:{rule_id}")]

    _deliver(_message("cus-1", "你好，我要退货"))  # the same event again
    assert _history("cus-1") == [(tag_id, f"rule:{rule_id}")]


def test_paid_orders_tag_by_category_amount_and_count(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    big, _ = _setup(gateway, sup, {"kind": "order", "min_amount": "500"}, "大单")
    beauty, _ = _setup(gateway, sup, {"kind": "order", "categories": ["美妆"]}, "美妆")
    loyal, _ = _setup(gateway, sup, {"kind": "order_count", "orders": 2, "days": 30}, "复购")
    now = now_ms()
    for n, placed in enumerate((now - 40 * DAY, now - 3 * DAY, now)):
        Order(
            customer_key("shop-a", "cus-1"),
            Order.key(f"o-{n}"),
            shop_id="shop-a",
            customer_id="cus-1",
            order_id=f"o-{n}",
            shop_order=Order.order_key("shop-a", f"o-{n}"),
            status="paid",
            amount="99.00",
            items=[OrderLine(product_id="p", title="口红", category="美妆", quantity=1)],
            placed_at=placed,
            last_event_at=placed,
            updated_at=placed,
        ).save()
    paid = {
        "customer_id": "cus-1",
        "shop_event_id": "e-1",
        "order_id": "o-2",
        "order": {"amount": "99.00", "items": [{"category": "美妆"}]},
    }
    assert _deliver(_event("shop.order_paid", paid)) == {"batchItemFailures": []}
    assert sorted(_tags("cus-1")) == sorted([beauty, loyal])  # not over 500
    assert big not in _tags("cus-1")


def test_tier_changes_and_attribute_values_tag(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    vip, _ = _setup(gateway, sup, {"kind": "tier_changed", "tiers": ["high_value"]}, "VIP")
    oily, _ = _setup(
        gateway, sup, {"kind": "attribute", "attribute_id": "skin", "values": ["油性"]}, "油皮"
    )
    tier = _event("customer.tier_changed", {"customer_id": "cus-1", "new_tier": "high_value"})
    updated = _event(
        "customer.updated",
        {"customer_id": "cus-1", "fields": ["attributes"], "attributes": {"skin": "油性"}},
    )
    assert _deliver(tier, updated) == {"batchItemFailures": []}
    assert _tags("cus-1") == [vip, oily]


def test_a_tier_rule_must_name_the_shops_tiers(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = gateway.post("/v1/tags", token=sup, json_body={"name": "VIP"}).json()["tag_id"]
    refused = gateway.post(
        RULES,
        token=sup,
        json_body={
            "name": "贵宾",
            "trigger": {"kind": "tier_changed", "tiers": ["高价值"]},
            "tag_ids": [tag_id],
        },
    )
    assert (refused.status, refused.error["code"]) == (400, "unknown_tier")


def test_a_record_that_is_not_an_event_fails_alone(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id, _ = _setup(gateway, sup, {"kind": "keyword", "keywords": ["退款"]})
    no_tier = _event("customer.tier_changed", {"customer_id": "cus-1"})
    out = _deliver(no_tier, _message("cus-1", "退款", "msg-9"))
    assert out == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert _tags("cus-1") == [tag_id]


def test_rules_are_edited_by_supervisors_and_audited(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    agent = staff_token("shop-a", "xiaowang", "agent")
    tag_id, rule_id = _setup(gateway, sup, {"kind": "keyword", "keywords": ["退款"]})
    listing = gateway.get(RULES, token=agent).json()
    assert [r["rule_id"] for r in listing["rules"]] == [rule_id] and listing["revision"] == 1
    refused = gateway.patch(f"{RULES}/{rule_id}", token=agent, json_body={"enabled": False})
    assert refused.status == 403
    off = gateway.patch(f"{RULES}/{rule_id}", token=sup, json_body={"enabled": False})
    assert off.status == 200 and off.json()["enabled"] is False
    _deliver(_message("cus-1", "退款"))
    assert _tags("cus-1") == []  # a disabled rule tags no one
    assert gateway.request("DELETE", f"{RULES}/{rule_id}", token=sup).status == 200
    assert gateway.get(f"{RULES}/{rule_id}", token=sup).status == 404
    actions = [r["action"] for r in list_audit("shop-a", target=("tag_rule", rule_id))[0]]
    assert actions == ["tag_rule.deleted", "tag_rule.updated", "tag_rule.created"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {
                "name": "x",
                "trigger": {"kind": "keyword", "keywords": ["a"]},
                "tag_ids": ["tag_1700000000000a1b2c3d4e5"],
            },
            "unknown_tag",
        ),
        ({"name": "x", "trigger": {"kind": "teleport"}, "tag_ids": ["t"]}, "validation_error"),
        (
            {"name": "x", "trigger": {"kind": "keyword", "keywords": ["a"]}, "tag_ids": []},
            "validation_error",
        ),
    ],
)
def test_bad_rules_are_400_and_write_nothing(gateway, staff_token, shop, body, code):
    sup = staff_token("shop-a", "laoli", "supervisor")
    answer = gateway.post(RULES, token=sup, json_body=body)
    assert (answer.status, answer.error["code"]) == (400, code)
    assert gateway.get(RULES, token=sup).json()["rules"] == []


def test_a_new_rule_can_back_fill_the_customers_it_matches_today(gateway, staff_token, shop):
    from kefu.jobs import worker

    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id = gateway.post("/v1/tags", token=sup, json_body={"name": "VIP"}).json()["tag_id"]
    keyword = {"name": "x", "trigger": {"kind": "keyword", "keywords": ["a"]}, "tag_ids": [tag_id]}
    refused = gateway.post(RULES, token=sup, json_body={**keyword, "backfill": True})
    assert (refused.status, refused.error["code"]) == (400, "backfill_unsupported")

    created = gateway.post(
        RULES,
        token=sup,
        json_body={
            "name": "高价值客户",
            "trigger": {"kind": "tier_changed", "tiers": ["high_value"]},
            "tag_ids": [tag_id],
            "backfill": True,
        },
    )
    assert created.status == 201, created.text
    job = created.json()["backfill_job"]
    assert (job["kind"], job["selection"]) == ("rule_backfill", {"all": True})
    assert worker.run("shop-a", job["job_id"], lambda: 60_000)["outcome"] == "done"
    assert (_tags("cus-1"), _tags("cus-2")) == ([], [tag_id])
    assert _history("cus-2") == [(tag_id, f"rule:{created.json()['rule_id']}")]


def test_a_cart_abandoned_for_n_hours_is_tagged_by_the_sweep(gateway, staff_token, shop):
    from kefu.tags import cart

    sup = staff_token("shop-a", "laoli", "supervisor")
    tag_id, rule_id = _setup(gateway, sup, {"kind": "cart_abandoned", "hours": 2}, "弃购")
    at = now_ms() - 3 * 3600 * 1000

    def added(customer_id: str) -> dict:
        data = {"customer_id": customer_id, "shop_event_id": f"e-{customer_id}", "product_id": "p1"}
        return {**_event("shop.cart_item_added", data), "occurred_at": at}

    assert _deliver(added("cus-1"), added("cus-2")) == {"batchItemFailures": []}
    Order(  # cus-2 bought within the two hours: not abandoned
        customer_key("shop-a", "cus-2"),
        Order.key("o-1"),
        shop_id="shop-a",
        customer_id="cus-2",
        order_id="o-1",
        shop_order=Order.order_key("shop-a", "o-1"),
        status="paid",
        placed_at=at + 3600 * 1000,
        last_event_at=at,
        updated_at=at,
    ).save()

    assert cart.sweep(now=at + 2 * 3600 * 1000 - 1)["checked"] == 0  # not due yet
    swept = cart.sweep(now=at + 2 * 3600 * 1000 + 60_000)
    assert (swept["checked"], swept["tagged"]) == (2, 1)
    assert (_tags("cus-1"), _tags("cus-2")) == ([tag_id], [])
    assert _history("cus-1") == [(tag_id, f"rule:{rule_id}")]
    assert cart.sweep(now=at + 2 * 3600 * 1000 + 120_000)["checked"] == 0  # each watch once


def test_the_sample_batch_decodes(shop):
    from tests.unit.functions.conftest import ROOT

    batch = json.loads((ROOT / "events" / "tagging" / "sqs_batch.json").read_text("utf-8"))
    out = _handler("TaggingFunction")(batch, LambdaContext("tagging"))
    assert out == {"batchItemFailures": []}


def _on_messages(shop_id: str = "shop-a") -> bool | None:
    from kefu.storage.shops import PROFILE, ShopProfile

    return ShopProfile.get(shop_id, PROFILE, consistent_read=True).message_tag_rules


def test_the_shop_profile_says_whether_an_enabled_rule_matches_messages(gateway, staff_token, shop):
    """Intake copies ShopProfile.message_tag_rules onto message.received (`data.tagging`), and
    only those messages reach the tagging function: every rule change keeps it true."""
    sup = staff_token("shop-a", "laoli", "supervisor")
    _, order_rule = _setup(gateway, sup, {"kind": "order", "min_amount": "500"}, "大单")
    assert _on_messages() is False  # an order rule does not read messages
    _, keyword = _setup(gateway, sup, {"kind": "keyword", "keywords": ["退款"]}, "退款")
    assert _on_messages() is True
    _, second = _setup(gateway, sup, {"kind": "keyword", "keywords": ["发票"]}, "发票")

    def patch(rule_id: str, body: dict) -> None:
        answer = gateway.patch(f"{RULES}/{rule_id}", token=sup, json_body=body)
        assert answer.status == 200, answer.text

    patch(keyword, {"enabled": False})
    assert _on_messages() is True  # the other keyword rule still does
    assert gateway.request("DELETE", f"{RULES}/{second}", token=sup).status == 200
    assert _on_messages() is False  # the last enabled one is gone
    patch(keyword, {"enabled": True})
    assert _on_messages() is True
    patch(keyword, {"trigger": {"kind": "intent", "intents": ["refund"]}})
    assert _on_messages() is False
    patch(order_rule, {"trigger": {"kind": "keyword", "keywords": ["会员"]}})
    assert _on_messages() is True


def test_intake_marks_the_messages_of_a_shop_with_message_rules(
    gateway, staff_token, shop, kefu_env
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    customer = gateway.customer_token("shop-a", "u-1")

    def says(text: str) -> dict:
        sent = gateway.post(
            "/v1/messages", token=customer, json_body={"type": "text", "text": text}
        )
        assert sent.status in (200, 201), sent.text
        return kefu_env.events("message.received")[-1]["data"]

    assert says("在吗").get("tagging", False) is False
    _setup(gateway, sup, {"kind": "keyword", "keywords": ["退款"]})
    assert says("我要退款")["tagging"] is True  # this instance sees the profile change at once


def test_two_concurrent_rule_changes_cannot_leave_a_stale_flag(gateway, staff_token, shop):
    """Each change is computed from the head's revision it read and written on condition that
    it is unchanged: the second of two concurrent changes is 409 `stale`, never a lost update
    (here: disabling the last keyword rule while another is created would leave `false`)."""
    from kefu.storage.tags import TagsHead
    from kefu.tags import rules_admin

    sup = staff_token("shop-a", "laoli", "supervisor")
    _, keyword = _setup(gateway, sup, {"kind": "keyword", "keywords": ["退款"]})
    read = rules_admin._head

    def another_change_lands_meanwhile(shop_id: str) -> tuple[int, int]:
        seen = read(shop_id)
        TagsHead(shop_id, TagsHead.key()).update(actions=[TagsHead.rules_revision.add(1)])
        return seen

    rules_admin._head = another_change_lands_meanwhile
    try:
        answer = gateway.patch(f"{RULES}/{keyword}", token=sup, json_body={"enabled": False})
    finally:
        rules_admin._head = read
    assert (answer.status, answer.error["code"]) == (409, "stale")
    assert gateway.get(f"{RULES}/{keyword}", token=sup).json()["enabled"] is True
    assert _on_messages() is True
    again = gateway.patch(f"{RULES}/{keyword}", token=sup, json_body={"enabled": False})
    assert again.status == 200 and _on_messages() is False
