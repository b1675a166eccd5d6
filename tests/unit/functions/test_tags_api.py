"""Specification: the tags function over HTTP — tag groups and tags edited by supervisors and the
owner, read by everyone on staff; tags on one customer with their history; everything within
the caller's shop, audited, and bad input answered with a code and nothing written."""

import pytest
from kefu.audit import list_audit
from kefu.storage.customers import Customer

from tests.support.factories import make_customer, make_shop


@pytest.fixture
def shops(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    make_customer("shop-a", "cus-1")
    make_customer("shop-b", "cus-b")


def _tags_of(shop_id: str, customer_id: str) -> list[str]:
    return list(Customer.get(shop_id, Customer.key(customer_id)).tags or [])


def test_groups_and_tags_are_written_by_supervisors_and_read_by_agents(gateway, staff_token, shops):
    sup = staff_token("shop-a", "laoli", "supervisor")
    agent = staff_token("shop-a", "xiaowang", "agent")

    group = gateway.post("/v1/tag-groups", token=sup, json_body={"name": "兴趣"})
    assert group.status == 201, group.text
    group_id = group.json()["group_id"]
    tag = gateway.post(
        "/v1/tags",
        token=sup,
        json_body={"name": "美妆", "group_id": group_id, "colour": "#FF6A00", "description": "x"},
    )
    assert tag.status == 201, tag.text
    tag_id = tag.json()["tag_id"]

    assert [g["name"] for g in gateway.get("/v1/tag-groups", token=agent).json()["groups"]] == [
        "兴趣"
    ]
    listing = gateway.get("/v1/tags", token=agent, query={"group_id": group_id})
    assert [t["tag_id"] for t in listing.json()["tags"]] == [tag_id]
    one = gateway.get(f"/v1/tags/{tag_id}", token=agent).json()
    assert (one["colour"], one["customers"]) == ("#FF6A00", 0)

    refused = gateway.post("/v1/tags", token=agent, json_body={"name": "VIP"})
    assert (refused.status, refused.error["code"]) == (403, "permission_denied")
    changed = gateway.patch(f"/v1/tags/{tag_id}", token=sup, json_body={"colour": "#1890FF"})
    assert changed.status == 200 and changed.json()["colour"] == "#1890FF"

    actions = [r["action"] for r in list_audit("shop-a", target=("tag", tag_id))[0]]
    assert actions == ["tag.updated", "tag.created"]


def test_bad_tags_answer_400_or_409_and_write_nothing(gateway, staff_token, shops):
    sup = staff_token("shop-a", "laoli", "supervisor")
    bad_colour = gateway.post("/v1/tags", token=sup, json_body={"name": "x", "colour": "red"})
    assert (bad_colour.status, bad_colour.error["code"]) == (400, "validation_error")
    no_group = gateway.post(
        "/v1/tags", token=sup, json_body={"name": "x", "group_id": "tgg_1700000000000a1b2c3d4e5"}
    )
    assert (no_group.status, no_group.error["code"]) == (400, "unknown_tag_group")
    assert gateway.post("/v1/tags", token=sup, json_body={"name": "VIP"}).status == 201
    twice = gateway.post("/v1/tags", token=sup, json_body={"name": " vip "})
    assert (twice.status, twice.error["code"]) == (409, "tag_name_taken")
    assert [t["name"] for t in gateway.get("/v1/tags", token=sup).json()["tags"]] == ["VIP"]


def test_tagging_one_customer_records_who_and_when_and_is_idempotent(gateway, staff_token, shops):
    sup = staff_token("shop-a", "laoli", "supervisor")
    agent = staff_token("shop-a", "xiaowang", "agent")
    tag_id = gateway.post("/v1/tags", token=sup, json_body={"name": "高意向"}).json()["tag_id"]

    added = gateway.post("/v1/customers/cus-1/tags", token=agent, json_body={"tag_ids": [tag_id]})
    assert added.status == 200, added.text
    assert added.json() == {
        "customer_id": "cus-1",
        "tags": [tag_id],
        "added": [tag_id],
        "removed": [],
    }
    again = gateway.post("/v1/customers/cus-1/tags", token=agent, json_body={"tag_ids": [tag_id]})
    assert again.json()["added"] == []  # already there: nothing written
    assert gateway.get(f"/v1/tags/{tag_id}", token=agent).json()["customers"] == 1

    in_use = gateway.request("DELETE", f"/v1/tags/{tag_id}", token=sup)
    assert (in_use.status, in_use.error["code"]) == (409, "tag_in_use")

    removed = gateway.request("DELETE", f"/v1/customers/cus-1/tags/{tag_id}", token=agent)
    assert removed.status == 200 and removed.json()["removed"] == [tag_id]
    assert _tags_of("shop-a", "cus-1") == []

    history = gateway.get("/v1/customers/cus-1/tags/history", token=agent).json()
    assert [(h["action"], h["source"]) for h in history["history"]] == [
        ("removed", "staff:xiaowang"),
        ("added", "staff:xiaowang"),
    ]
    audit = [r["action"] for r in list_audit("shop-a", target=("customer", "cus-1"))[0]]
    assert audit == ["customer.untagged", "customer.tagged"]

    assert gateway.request("DELETE", f"/v1/tags/{tag_id}", token=sup).status == 200
    assert gateway.get(f"/v1/tags/{tag_id}", token=sup).status == 404


def test_tags_stay_in_their_shop(gateway, staff_token, shops):
    sup_a = staff_token("shop-a", "laoli", "supervisor")
    sup_b = staff_token("shop-b", "laozhang", "supervisor")
    tag_a = gateway.post("/v1/tags", token=sup_a, json_body={"name": "A"}).json()["tag_id"]

    assert gateway.get(f"/v1/tags/{tag_a}", token=sup_b).status == 404
    foreign_tag = gateway.post(
        "/v1/customers/cus-b/tags", token=sup_b, json_body={"tag_ids": [tag_a]}
    )
    assert (foreign_tag.status, foreign_tag.error["code"]) == (400, "unknown_tag")
    foreign_customer = gateway.post(
        "/v1/customers/cus-b/tags", token=sup_a, json_body={"tag_ids": [tag_a]}
    )
    assert (foreign_customer.status, foreign_customer.error["code"]) == (404, "customer_not_found")
    too_long = gateway.get(f"/v1/customers/{'x' * 2000}/tags/history", token=sup_a)
    assert (too_long.status, too_long.error["code"]) == (404, "customer_not_found")
    assert _tags_of("shop-b", "cus-b") == []


def test_a_customer_carries_at_most_the_limit(gateway, staff_token, shops, monkeypatch):
    from kefu.tags import assign

    monkeypatch.setattr(assign, "MAX_TAGS_PER_CUSTOMER", 1)
    sup = staff_token("shop-a", "laoli", "supervisor")
    one = gateway.post("/v1/tags", token=sup, json_body={"name": "一"}).json()["tag_id"]
    two = gateway.post("/v1/tags", token=sup, json_body={"name": "二"}).json()["tag_id"]
    first = gateway.post("/v1/customers/cus-1/tags", token=sup, json_body={"tag_ids": [one]})
    assert first.status == 200, first.text
    over = gateway.post("/v1/customers/cus-1/tags", token=sup, json_body={"tag_ids": [two]})
    assert (over.status, over.error["code"]) == (400, "tag_limit")
    assert _tags_of("shop-a", "cus-1") == [one]
