"""Specification: the segments function over HTTP — previews and saved segments answer as
documented, within the caller's shop and role, saves are audited, and bad filters are 400s."""

import json

import pytest
from kefu.ids import now_ms
from kefu.segments.rebuild import rebuild
from kefu.storage.audit import AuditRecord

from infra.bench.segments import brute_force, generate, put_customers
from tests.support.factories import make_shop

SEGMENTS = "/v1/segments"
BIG_SPENDERS = {"and": [{"spend": {"gte": 200_000}}, {"tag": {"in": ["tag00", "tag01"]}}]}


@pytest.fixture
def crm(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    customers = generate(60, tags=4, seed=11, now_ms=now_ms())
    put_customers("shop-a", customers)
    rebuild("shop-a")
    return customers


def test_a_preview_counts_and_pages_without_saving(gateway, staff_token, crm):
    agent = staff_token("shop-a", "xiaowang", "agent")
    answer = gateway.post(
        f"{SEGMENTS}/preview",
        token=agent,
        json_body={"filter": BIG_SPENDERS, "sort": "spend", "limit": 3},
    )
    assert answer.status == 200, answer.text
    expected = brute_force(BIG_SPENDERS, crm, now_ms())
    page = answer.json()
    assert page["count"] == len(expected)
    spends = [c["total_spent"] for c in page["customers"]]
    assert spends == sorted(spends, reverse=True) and len(spends) == min(3, len(expected))
    assert all("real_name" not in c and "phones" not in c for c in page["customers"])
    assert gateway.get(SEGMENTS, token=agent).json()["segments"] == []


def test_an_owner_saves_a_segment_and_staff_page_through_its_customers(gateway, staff_token, crm):
    owner = staff_token("shop-a", "boss", "owner")
    agent = staff_token("shop-a", "xiaowang", "agent")
    created = gateway.post(
        SEGMENTS, token=owner, json_body={"name": "高消费", "filter": BIG_SPENDERS}
    )
    assert created.status == 201, created.text
    segment = created.json()
    expected = brute_force(BIG_SPENDERS, crm, now_ms())
    assert (segment["count"], segment["count_age_seconds"]) == (len(expected), 0)

    walked, cursor = [], None
    while True:
        url = f"{SEGMENTS}/{segment['segment_id']}/customers?limit=2"
        page = gateway.get(url + (f"&cursor={cursor}" if cursor else ""), token=agent)
        assert page.status == 200, page.text
        walked += [c["customer_id"] for c in page.json()["customers"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert sorted(walked) == sorted(expected)

    listed = gateway.get(SEGMENTS, token=agent).json()["segments"]
    assert [s["segment_id"] for s in listed] == [segment["segment_id"]]
    renamed = gateway.patch(
        f"{SEGMENTS}/{segment['segment_id']}",
        token=owner,
        json_body={"name": "所有客户", "filter": {"spend": {"gte": 0}}},
    )
    assert renamed.status == 200, renamed.text
    with_spend = sum(1 for c in crm if c.get("total_spent") is not None and not c.get("erased_at"))
    assert (renamed.json()["name"], renamed.json()["count"]) == ("所有客户", with_spend)
    refreshed = gateway.post(f"{SEGMENTS}/{segment['segment_id']}/refresh", token=agent)
    assert refreshed.status == 200 and refreshed.json()["count"] == with_spend
    gone = gateway.request("DELETE", f"{SEGMENTS}/{segment['segment_id']}", token=owner)
    assert gone.json() == {"segment_id": segment["segment_id"], "deleted": True}
    assert gateway.get(f"{SEGMENTS}/{segment['segment_id']}", token=agent).status == 404

    actions = [r.action for r in AuditRecord.query("shop-a") if r.target_type == "segment"]
    assert sorted(actions) == ["segment.created", "segment.deleted", "segment.updated"]


def test_agents_may_not_save_and_other_shops_see_nothing(gateway, staff_token, crm):
    owner = staff_token("shop-a", "boss", "owner")
    agent = staff_token("shop-a", "xiaowang", "agent")
    stranger = staff_token("shop-b", "other", "owner")
    denied = gateway.post(SEGMENTS, token=agent, json_body={"name": "x", "filter": BIG_SPENDERS})
    assert denied.status == 403
    saved = gateway.post(SEGMENTS, token=owner, json_body={"name": "x", "filter": BIG_SPENDERS})
    segment_id = saved.json()["segment_id"]
    assert gateway.get(f"{SEGMENTS}/{segment_id}", token=stranger).status == 404
    assert gateway.get(f"{SEGMENTS}/{segment_id}/customers", token=stranger).status == 404
    theirs = gateway.post(
        f"{SEGMENTS}/preview", token=stranger, json_body={"filter": {"spend": {"gte": 0}}}
    )
    assert theirs.json()["count"] == 0


def test_a_filter_nested_100_deep_is_a_400_and_saves_nothing(gateway, staff_token, crm):
    owner = staff_token("shop-a", "boss", "owner")
    node: dict = {"tag": {"in": ["tag00"]}}
    for _ in range(99):
        node = {"not": node}
    for path in (f"{SEGMENTS}/preview", SEGMENTS):
        answer = gateway.post(path, token=owner, json_body={"name": "deep", "filter": node})
        assert answer.status == 400, answer.text
        assert answer.json()["error"]["code"] == "filter_too_deep"
    assert gateway.get(SEGMENTS, token=owner).json()["segments"] == []
    assert not [r for r in AuditRecord.query("shop-a") if r.target_type == "segment"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filter": {"tag": {"in": ["a"]}, "tier": {"in": ["b"]}}}, "invalid_filter"),
        ({"filter": {"colour": {"in": ["red"]}}}, "validation_error"),
        ({"filter": {"spend": {"gte": 1}}, "sort": "name"}, "validation_error"),
    ],
)
def test_malformed_filters_are_400s_with_a_code(gateway, staff_token, crm, body, code):
    agent = staff_token("shop-a", "xiaowang", "agent")
    answer = gateway.post(f"{SEGMENTS}/preview", token=agent, json_body=body)
    assert answer.status == 400, answer.text
    assert answer.json()["error"]["code"] == code


def test_an_unknown_sort_on_a_segment_page_is_a_400(gateway, staff_token, crm):
    owner = staff_token("shop-a", "boss", "owner")
    saved = gateway.post(SEGMENTS, token=owner, json_body={"name": "x", "filter": BIG_SPENDERS})
    url = f"{SEGMENTS}/{saved.json()['segment_id']}/customers?sort=name"
    answer = gateway.get(url, token=owner)
    assert answer.status == 400 and answer.json()["error"]["code"] == "invalid_sort"
    assert json.loads(answer.text)["error"]["code"] == "invalid_sort"
