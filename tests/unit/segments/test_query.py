"""Specification: a segment's count and pages come from the index exactly — every filter agrees
with a brute-force filter of the same customers, sorted pages follow (value desc, newest first)
and cursors walk the whole result once; reads are BatchGetItems by key, never a Scan."""

import random

import pytest
from kefu.errors import BadRequest
from kefu.ids import now_ms
from kefu.segments import query
from kefu.segments.rebuild import rebuild

from infra.bench.segments import (
    AGENTS,
    CHANNELS,
    FIVE_CONDITIONS,
    REGIONS,
    STAGES,
    TIERS,
    brute_force,
    generate,
    put_customers,
)

SHOP = "shop-a"


@pytest.fixture
def crm(kefu_env):
    at = now_ms()
    customers = generate(250, tags=8, seed=3, now_ms=at)
    put_customers(SHOP, customers)
    assert rebuild(SHOP)["customers"] == len(customers)
    return customers


def random_condition(rng: random.Random) -> dict:
    kind = rng.randrange(9)
    if kind == 0:
        tags = rng.sample([f"tag{i:02d}" for i in range(8)], rng.randrange(1, 3))
        return {"tag": {rng.choice(["in", "all"]): tags}}
    if kind == 1:
        return {"tier": {"in": rng.sample(TIERS, 2)}}
    if kind == 2:
        return {"lifecycle_stage": {"in": [rng.choice(STAGES)]}}
    if kind == 3:
        return {"channel": {"all" if rng.random() < 0.5 else "in": rng.sample(CHANNELS, 2)}}
    if kind == 4:
        return {"region": {"in": [rng.choice([r.split("/")[0] for r in REGIONS] + REGIONS)]}}
    if kind == 5:
        return {"owner_agent": {"in": rng.sample(AGENTS, 3)}}
    if kind == 6:
        field = rng.choice(["spend", "orders_count"])
        top = 500_000 if field == "spend" else 40
        bounds = {rng.choice(["gte", "gt", "lte", "lt"]): rng.randrange(top) for _ in range(2)}
        return {field: {"exists": False} if rng.random() < 0.1 else bounds}
    if kind == 7:
        field = rng.choice(["last_purchase", "last_contact"])
        options = [
            {"within_days": rng.randrange(365)},
            {"more_than_days": rng.randrange(365)},
            {"within_days": 200, "more_than_days": rng.randrange(200)},
            {"from": "2026-03-01", "to": "2026-09-30"},
            {"exists": False},
        ]
        return {field: rng.choice(options)}
    return {
        "attribute": {
            "id": rng.choice(["size", "vip_card"]),
            "in": rng.sample(["S", "M", "L", True], 2),
        }
    }


def random_filter(rng: random.Random, depth: int = 0) -> dict:
    if depth >= 3 or rng.random() < 0.35:
        return random_condition(rng)
    op = rng.choice(["and", "or", "not"])
    if op == "not":
        return {"not": random_filter(rng, depth + 1)}
    return {op: [random_filter(rng, depth + 1) for _ in range(rng.randrange(1, 4))]}


def test_every_random_filter_matches_brute_force(crm):
    rng = random.Random(7)
    for _ in range(60):
        f = random_filter(rng)
        at = now_ms()
        got = set(query.member_ids(SHOP, query.matching(SHOP, f)))
        assert got == brute_force(f, crm, at), f


def test_the_benchmark_filter_counts_exactly_with_a_handful_of_requests(crm, kefu_env):
    from infra.bench import aws_calls

    aws_calls.install()
    aws_calls.LOG.clear()
    result = query.page(SHOP, FIVE_CONDITIONS, "newest", None, 20)
    calls = [c for c in aws_calls.LOG.snapshot() if c.service == "dynamodb"]
    assert result["count"] == len(brute_force(FIVE_CONDITIONS, crm, now_ms()))
    assert {c.operation for c in calls} <= {"GetItem", "BatchGetItem"}
    assert len(calls) <= 6


@pytest.mark.parametrize("sort", ["newest", "spend", "last_contact"])
def test_cursors_walk_the_whole_result_once_in_order(crm, sort):
    f = {"or": [{"tag": {"in": ["tag00"]}}, {"orders_count": {"gte": 30}}]}
    expected = brute_force(f, crm, now_ms())
    by_id = {c["customer_id"]: c for c in crm}
    attribute = {"spend": "total_spent", "last_contact": "last_contact_at"}.get(sort)

    def order(cid: str) -> tuple:
        newest = -int(cid.split("_")[1])  # generated in number order
        if attribute is None:
            return (0, 0, newest)
        value = by_id[cid].get(attribute)
        return (value is None, -(value or 0), newest)

    walked, cursor = [], None
    while True:
        result = query.page(SHOP, f, sort, cursor, 7)
        assert result["count"] == len(expected)
        walked += [c["customer_id"] for c in result["customers"]]
        cursor = result["next_cursor"]
        if cursor is None:
            break
    assert sorted(walked) == sorted(expected)
    if attribute == "last_contact_at":  # indexed in whole minutes: ties within a minute
        minute = {cid: (by_id[cid].get(attribute) or -60_000) // 60_000 for cid in walked}
        assert [minute[c] for c in walked] == sorted((minute[c] for c in walked), reverse=True)
    else:
        assert walked == sorted(expected, key=order)


def test_an_unknown_sort_is_a_400(crm):
    with pytest.raises(BadRequest) as err:
        query.page(SHOP, None, "name", None, 5)
    assert err.value.code == "invalid_sort"


def test_no_filter_is_every_live_customer(crm):
    assert query.count(SHOP, None) == sum(1 for c in crm if not c.get("erased_at"))


def test_a_second_rebuild_changes_nothing(crm):
    assert rebuild(SHOP)["items_written"] == 0


def test_a_rebuild_numbers_customers_who_predate_the_index_and_skips_the_erased(kefu_env):
    customers = generate(30, tags=3, seed=5, now_ms=now_ms())
    customers[0]["erased_at"] = 1
    put_customers(SHOP, customers, numbered=False)
    done = rebuild(SHOP)
    assert (done["customers"], done["numbered"]) == (29, 29)
    everyone = set(query.member_ids(SHOP, query.matching(SHOP, None)))
    assert everyone == {c["customer_id"] for c in customers[1:]}


def test_members_of_a_saved_segment_are_its_customer_ids(crm):
    import msgspec
    from kefu.auth.actors import StaffActor
    from kefu.segments import admin, members
    from kefu.segments.filters import Filter

    f = {"tag": {"in": ["tag01"]}}
    owner = StaffActor(SHOP, "boss", "owner")
    saved = admin.create_segment(
        owner, admin.NewSegment(name="tag01", filter=msgspec.convert(f, Filter))
    )
    assert set(members(SHOP, saved["segment_id"])) == brute_force(f, crm, now_ms())


def test_the_customer_list_filters_by_tag_tier_and_segment_in_one_call(crm):
    import msgspec
    from kefu.auth.actors import StaffActor
    from kefu.errors import NotFound
    from kefu.segments import admin
    from kefu.segments.filters import Filter

    spenders = {"spend": {"gte": 100_000}}
    saved = admin.create_segment(
        StaffActor(SHOP, "boss", "owner"),
        admin.NewSegment(name="spenders", filter=msgspec.convert(spenders, Filter)),
    )
    got = query.customer_list_page(
        SHOP, tag="tag00", tier="loyal", segment=saved["segment_id"], sort="spend", limit=100
    )
    both = {"and": [{"tag": {"in": ["tag00"]}}, {"tier": {"in": ["loyal"]}}, spenders]}
    assert {c["customer_id"] for c in got["customers"]} == brute_force(both, crm, now_ms())
    assert query.customer_list_page(SHOP)["count"] == query.count(SHOP, None)
    with pytest.raises(NotFound):
        query.customer_list_page(SHOP, segment="seg_0000000000000aaaaaaaaaa")
