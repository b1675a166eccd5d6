"""Specification: the nightly pass re-scores every customer with a purchase (recency decays
without events) by a Query over the shop's customers in chunks, saving its cursor after each, so
a run cut short resumes where it stopped; a finished run is not repeated the same night."""

from __future__ import annotations

from kefu.ids import now_ms
from kefu.storage.tiers import PASS_SK, TierPass
from kefu.tiers import nightly
from kefu.tiers.recompute import on_order_event

from tests.unit.tiers.conftest import (
    DAY_MS,
    SHOP,
    customer,
    new_customer,
    order_event,
    set_summary,
)


def test_a_customer_nobody_heard_from_decays_to_dormant_then_lost(shop):
    cid = new_customer()
    set_summary(cid, orders=2, yuan=300, days_ago=170)
    on_order_event(order_event(cid, "order_delivered", "SO-1", status="delivered"))
    assert customer(cid).tier == "active"

    nightly.run(now=now_ms() + 20 * DAY_MS)
    assert customer(cid).tier == "dormant"
    nightly.run(now=now_ms() + 200 * DAY_MS)
    assert customer(cid).tier == "lost"
    causes = [e["data"]["cause"] for e in shop["env"].events("customer.tier_changed")]
    assert causes[1:] == [
        f"nightly:{nightly.run_key(now_ms() + 20 * DAY_MS, 0)}",
        f"nightly:{nightly.run_key(now_ms() + 200 * DAY_MS, 0)}",
    ]


def test_a_run_cut_short_resumes_from_its_cursor(shop, monkeypatch):
    monkeypatch.setattr(nightly, "CHUNK", 2)
    ids = [new_customer(f"o-{n}") for n in range(5)]
    for cid in ids:
        set_summary(cid, orders=1, yuan=80, days_ago=100)  # bought once: "new", never scored
    later = now_ms() + DAY_MS

    first = nightly.run_shop(SHOP, later, time_left=lambda: False)  # one chunk, then out of time
    progress = TierPass.get(SHOP, PASS_SK)
    assert (first["done"], first["read"], progress.done) == (False, 2, False)
    assert progress.cursor is not None

    second = nightly.run_shop(SHOP, later)
    assert second["done"] is True and second["read"] == 3  # the rest, not the first two again
    assert {customer(cid).tier for cid in ids} == {"new"}
    assert TierPass.get(SHOP, PASS_SK).read == 5

    again = nightly.run_shop(SHOP, later)
    assert (again["done"], again["read"]) == (True, 0)  # finished tonight: one GetItem


def test_customers_without_a_purchase_summary_are_left_alone(shop):
    cid = new_customer()
    outcome = nightly.run_shop(SHOP, now_ms())
    assert outcome["changed"] == 0 and customer(cid).tier == "regular"
    assert customer(cid).rfm is None


def test_the_pass_costs_a_query_and_a_checkpoint_per_chunk_and_a_write_per_change(
    shop, monkeypatch
):
    import botocore.client

    monkeypatch.setattr(nightly, "CHUNK", 10)
    ids = [new_customer(f"o-{n}") for n in range(25)]
    for n, cid in enumerate(ids):
        set_summary(cid, orders=1, yuan=80, days_ago=100 if n < 20 else 170)
    nightly.run_shop(SHOP, now_ms())  # every customer scored once: "new"
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    # Fifteen days later the five who bought 170 days ago pass the 180-day cut-off: 沉睡.
    nightly.run_shop(SHOP, now_ms() + 15 * DAY_MS)

    # settings + checkpoint reads, 3 chunks (Query + checkpoint Put each), 5 changed customers
    assert sorted(calls) == sorted(
        ["GetItem", "GetItem"] + ["Query", "PutItem"] * 3 + ["UpdateItem"] * 5
    )
    assert "Scan" not in calls
    assert {customer(cid).tier for cid in ids[20:]} == {"dormant"}
