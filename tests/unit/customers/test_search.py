"""Specification: GET /v1/customers lists a shop's customers by last contact, and finds them by
nickname prefix, phone (its keyed hash), real name, external id or order number."""

import msgspec
from kefu.customers import profiles, search
from kefu.customers.fields import ProfileChange
from kefu.shop_events import ingest
from kefu.shop_events.payloads import decode_events
from kefu.storage.customers import Customer


def _ids(page):
    return [c["customer_id"] for c in page["customers"]]


def test_the_default_list_is_newest_contact_first_and_pages_with_a_cursor(crm):
    Customer(shop_id="shop-a", sk=Customer.key(crm["ming"])).update(
        actions=[Customer.last_contact_at.set(9_000_000_000_000)]
    )
    first = search.list_customers(crm["agent"], limit=1)
    assert _ids(first) == [crm["ming"]] and first["next_cursor"]
    second = search.list_customers(crm["agent"], limit=1, cursor=first["next_cursor"])
    assert _ids(second) == [crm["alice"]]
    assert search.list_customers(crm["other_shop"])["customers"] == []  # shop-b has none


def test_q_finds_a_nickname_prefix_case_insensitively(crm):
    assert _ids(search.list_customers(crm["agent"], q="小")) == [crm["ming"]]
    assert _ids(search.list_customers(crm["agent"], q="ali")) == [crm["alice"]]


def test_q_finds_a_phone_in_any_spelling_and_a_real_name_exactly(crm):
    profiles.update_profile(
        crm["agent"],
        crm["alice"],
        msgspec.convert({"phones": ["13812345678"], "real_name": "Alice Wang"}, ProfileChange),
    )
    for q in ("13812345678", "+86 138 1234 5678", "alice wang"):
        assert _ids(search.list_customers(crm["agent"], q=q)) == [crm["alice"]], q
    assert _ids(search.list_customers(crm["agent"], q="13812345679")) == []
    page = search.list_customers(crm["agent"], q="13812345678")
    assert page["customers"][0]["contact"] == "138****5678"  # a list is always masked


def test_q_finds_an_external_id(crm):
    assert _ids(search.list_customers(crm["agent"], q="alice")) == [crm["alice"]]
    assert _ids(search.list_customers(crm["agent"], q="o-ming")) == [crm["ming"]]


def test_a_customer_is_found_by_order_number(crm):
    ingest(
        "shop-a",
        decode_events(
            b'{"events":[{"event_id":"e1","type":"order.created","occurred_at":1700000000000,'
            b'"customer":{"app_user_id":"alice"},"order":{"order_id":"SO-1","amount":"99.00"}}]}'
        ),
    )
    assert _ids(search.list_customers(crm["agent"], order_id="SO-1")) == [crm["alice"]]
    assert _ids(search.list_customers(crm["agent"], order_id="SO-404")) == []
    assert _ids(search.list_customers(crm["other_shop"], order_id="SO-1")) == []


def test_merged_profiles_are_left_out_of_lists(crm):
    Customer(shop_id="shop-a", sk=Customer.key(crm["ming"])).update(
        actions=[Customer.merged_into.set(crm["alice"])]
    )
    assert _ids(search.list_customers(crm["agent"])) == [crm["alice"]]


def test_opening_a_conversation_makes_the_customer_the_last_contacted(crm):
    from tests.support.factories import customer_says

    first = search.list_customers(crm["agent"])
    assert _ids(first)[0] == crm["alice"]  # created last
    customer_says("shop-a", "o-ming", "你好")
    assert _ids(search.list_customers(crm["agent"]))[0] == crm["ming"]
    item = Customer.get("shop-a", Customer.key(crm["ming"]))
    assert item.last_contact_at == item.last_seen_at


def test_a_renamed_customer_is_found_by_the_new_name_only(crm):
    profiles.update_profile(
        crm["agent"], crm["ming"], msgspec.convert({"display_name": "Ming Wang"}, ProfileChange)
    )
    assert _ids(search.list_customers(crm["agent"], q="小")) == []
    assert _ids(search.list_customers(crm["agent"], q="ming w")) == [crm["ming"]]
    profiles.update_profile(
        crm["agent"], crm["ming"], msgspec.convert({"display_name": None}, ProfileChange)
    )
    assert _ids(search.list_customers(crm["agent"], q="ming w")) == []


def test_name_search_pages_with_a_cursor(crm):
    for n, who in enumerate(("ming", "alice")):
        profiles.update_profile(
            crm["agent"], crm[who], msgspec.convert({"display_name": f"同名{n}"}, ProfileChange)
        )
    first = search.list_customers(crm["agent"], q="同名", limit=1)
    second = search.list_customers(crm["agent"], q="同名", limit=1, cursor=first["next_cursor"])
    assert sorted(_ids(first) + _ids(second)) == sorted([crm["ming"], crm["alice"]])
