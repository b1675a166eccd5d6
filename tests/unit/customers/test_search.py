"""Specification: GET /v1/customers lists a shop's customers by last contact, and finds them by
nickname prefix, phone (its keyed hash), real name, external id or order number."""

import msgspec
import pytest
from kefu.customers import profiles, search
from kefu.customers.fields import ProfileChange
from kefu.errors import BadRequest
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


def _indexed(crm):
    """alice: tag vip, spent ¥50; ming: tier high_value, spent ¥200; the index rebuilt."""
    from kefu.segments.rebuild import rebuild

    Customer(shop_id="shop-a", sk=Customer.key(crm["alice"])).update(
        actions=[Customer.tags.set(["vip"]), Customer.total_spent.set(5_000)]
    )
    Customer(shop_id="shop-a", sk=Customer.key(crm["ming"])).update(
        actions=[Customer.tier.set("high_value"), Customer.total_spent.set(20_000)]
    )
    rebuild("shop-a")


def test_tag_tier_and_sort_by_spend_come_from_the_segment_index_with_a_count(crm):
    _indexed(crm)
    by_tag = search.list_customers(crm["agent"], tag="vip")
    assert _ids(by_tag) == [crm["alice"]] and by_tag["count"] == 1
    assert by_tag["customers"][0]["purchase_summary"]["total_spent"] == 5_000  # same summary
    assert _ids(search.list_customers(crm["agent"], tier="high_value")) == [crm["ming"]]
    assert _ids(search.list_customers(crm["agent"], tag="vip", tier="high_value")) == []
    richest = search.list_customers(crm["agent"], sort="spend", limit=1)
    assert _ids(richest) == [crm["ming"]] and richest["count"] == 2
    rest = search.list_customers(crm["agent"], sort="spend", cursor=richest["next_cursor"])
    assert _ids(rest) == [crm["alice"]] and rest["next_cursor"] is None
    assert search.list_customers(crm["other_shop"], tag="vip")["count"] == 0


def test_a_saved_segment_filters_the_list_and_an_unknown_one_is_a_404(crm):
    from kefu.errors import NotFound
    from kefu.segments import admin
    from kefu.segments.filters import Filter

    _indexed(crm)
    big = msgspec.convert({"spend": {"gte": 10_000}}, Filter)
    saved = admin.create_segment(crm["owner"], admin.NewSegment(name="大客户", filter=big))
    assert _ids(search.list_customers(crm["agent"], segment=saved["segment_id"])) == [crm["ming"]]
    with pytest.raises(NotFound) as missing:
        search.list_customers(crm["agent"], segment="seg_0000000000000aaaaaaaaaa")
    assert missing.value.code == "segment_not_found"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"sort": "name"}, "invalid_sort"),
        ({"tag": "vip", "q": "ali"}, "filter_with_search"),
        ({"tier": "high_value", "order_id": "SO-1"}, "filter_with_search"),
        ({"tag": "a b"}, "invalid_tag"),
    ],
)
def test_bad_filters_are_refused_with_a_code(crm, kwargs, code):
    with pytest.raises(BadRequest) as refused:
        search.list_customers(crm["agent"], **kwargs)
    assert refused.value.code == code
