"""Specification: customers created before the profiles release (no last_contact_at, no NAME
item) are brought into the default list and the name search by `python -m
kefu.customers.backfill SHOP`: by Query, only what is missing, idempotent, merged and erased
profiles left alone."""

from kefu.customers import search
from kefu.customers.backfill import backfill
from kefu.storage.customers import Customer

from tests.support.factories import make_customer


def _ids(page):
    return [c["customer_id"] for c in page["customers"]]


def test_old_customers_join_the_default_list_and_the_name_search(crm):
    make_customer("shop-a", "old-1", last_seen_at=1_600_000_000_000)  # as intake made them
    make_customer("shop-a", "old-2")
    make_customer("shop-a", "gone", merged_into="old-1")
    assert "old-1" not in _ids(search.list_customers(crm["agent"]))
    assert _ids(search.list_customers(crm["agent"], q="客户 old")) == []

    done = backfill("shop-a")

    assert done["last_contact_at"] == 2 and done["name_items"] == 2
    assert Customer.get("shop-a", Customer.key("old-1")).last_contact_at == 1_600_000_000_000
    listed = _ids(search.list_customers(crm["agent"], limit=50))
    assert {"old-1", "old-2"} <= set(listed) and "gone" not in listed
    assert listed[-1] == "old-1"  # seen longest ago: last
    assert sorted(_ids(search.list_customers(crm["agent"], q="客户 old"))) == ["old-1", "old-2"]
    assert Customer.get("shop-a", Customer.key("gone")).last_contact_at is None


def test_running_it_again_changes_nothing(crm):
    make_customer("shop-a", "old-1")
    backfill("shop-a")
    before = Customer.get("shop-a", Customer.key("old-1")).serialize()
    again = backfill("shop-a")
    assert (again["last_contact_at"], again["name_items"]) == (0, 0)
    assert Customer.get("shop-a", Customer.key("old-1")).serialize() == before
    assert backfill("shop-b")["customers"] == 0  # one shop at a time
