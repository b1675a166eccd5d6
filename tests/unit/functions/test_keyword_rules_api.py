"""Specification: the keyword-rules function over HTTP — every route answers as documented, within
the caller's shop and role."""

import pytest

from tests.support.factories import make_shop

RULES = "/v1/bot/keyword-rules"
REFUND = {
    "name": "退款流程",
    "match_mode": "contains",
    "keywords": ["退款", "退货"],
    "priority": 10,
    "replies": [{"type": "text", "content": "{customer_name|亲}您好，7 天内可无理由退货～"}],
}


@pytest.fixture
def shops(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")


def test_an_owner_writes_a_rule_and_tries_it_agents_read_it(gateway, staff_token, shops):
    owner = staff_token("shop-a", "boss", "owner")
    agent = staff_token("shop-a", "xiaowang", "agent")

    created = gateway.post(RULES, token=owner, json_body=REFUND)
    assert created.status == 201, created.text
    rule = created.json()
    assert (rule["hits"], rule["last_hit_at"], rule["created_by"]) == (0, None, "boss")

    listing = gateway.get(RULES, token=agent)
    assert listing.status == 200, listing.text
    assert [r["rule_id"] for r in listing.json()["rules"]] == [rule["rule_id"]]
    assert listing.json()["revision"] == 1

    tried = gateway.post(
        f"{RULES}/test",
        token=agent,
        json_body={"text": "我想退货", "channel": "app", "variables": {"customer_name": "小明"}},
    )
    assert tried.status == 200, tried.text
    assert tried.json()["rule"]["rule_id"] == rule["rule_id"]
    assert tried.json()["replies"] == [
        {"type": "text", "content": {"text": "小明您好，7 天内可无理由退货～"}}
    ]
    draft = gateway.post(
        f"{RULES}/test",
        token=owner,
        json_body={"text": "在吗", "rule": {**REFUND, "match_mode": "exact", "keywords": ["在吗"]}},
    )
    assert (draft.json()["matched"], draft.json()["draft"]) == (True, True)

    one = gateway.get(f"{RULES}/{rule['rule_id']}", token=agent)
    assert one.status == 200 and one.json()["name"] == "退款流程"
    changed = gateway.patch(f"{RULES}/{rule['rule_id']}", token=owner, json_body={"enabled": False})
    assert changed.status == 200 and changed.json()["enabled"] is False
    gone = gateway.request("DELETE", f"{RULES}/{rule['rule_id']}", token=owner)
    assert gone.status == 200 and gone.json() == {"rule_id": rule["rule_id"], "deleted": True}
    assert gateway.get(f"{RULES}/{rule['rule_id']}", token=owner).status == 404


def test_invalid_rules_answer_400_with_the_reason(gateway, staff_token, shops):
    sup = staff_token("shop-a", "laoli", "supervisor")
    bad = gateway.post(
        RULES, token=sup, json_body={**REFUND, "match_mode": "regex", "keywords": ["(a)\\1"]}
    )
    assert (bad.status, bad.error["code"]) == (400, "invalid_regex")
    assert "backreferences" in bad.error["message"]
    too_many = gateway.post(RULES, token=sup, json_body={**REFUND, "keywords": ["k"] * 51})
    assert (too_many.status, too_many.error["code"]) == (400, "validation_error")
    unknown = gateway.post(
        RULES, token=sup, json_body={**REFUND, "replies": [{"type": "text", "content": "{x}"}]}
    )
    assert (unknown.status, unknown.error["code"]) == (400, "unknown_variable")
    created = gateway.post(RULES, token=sup, json_body=REFUND).json()
    empty = gateway.patch(f"{RULES}/{created['rule_id']}", token=sup, json_body={})
    assert (empty.status, empty.json()) == (200, created)  # {} is a no-op, not an error
    paging = gateway.get(RULES, token=sup, query={"limit": "0"})
    assert (paging.status, paging.error["code"]) == (400, "invalid_limit")


def test_roles_and_shops_are_kept_apart(gateway, staff_token, shops):
    owner = staff_token("shop-a", "boss", "owner")
    agent = staff_token("shop-a", "xiaowang", "agent")
    other = staff_token("shop-b", "boss", "owner")
    assert gateway.get(RULES).status == 401
    assert gateway.post(RULES, token=agent, json_body=REFUND).status == 403
    rule_id = gateway.post(RULES, token=owner, json_body=REFUND).json()["rule_id"]
    assert gateway.patch(f"{RULES}/{rule_id}", token=agent, json_body={"priority": 1}).status == 403
    assert gateway.request("DELETE", f"{RULES}/{rule_id}", token=agent).status == 403
    assert gateway.get(f"{RULES}/{rule_id}", token=other).status == 404
    assert gateway.patch(f"{RULES}/{rule_id}", token=other, json_body={"priority": 1}).status == 404
    assert gateway.request("DELETE", f"{RULES}/{rule_id}", token=other).status == 404
    assert gateway.get(RULES, token=other).json()["rules"] == []
    tried = gateway.post(f"{RULES}/test", token=other, json_body={"text": "退款"})
    assert tried.status == 200 and tried.json()["matched"] is False
