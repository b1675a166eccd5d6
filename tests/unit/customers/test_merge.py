"""Specification: staff merge two profiles of one person after a preview of what moves; the
merged profile keeps `merged_into`, its identities, conversations, tickets and orders follow the
survivor, and nothing moves on a preview or without the permission."""

import json

import msgspec
import pytest
from kefu.audit import AuditRecord
from kefu.conversations import service
from kefu.customers import WECHAT_OPENID, Identity, find_identity, merge, profiles
from kefu.customers.fields import ProfileChange
from kefu.customers.merge import MergeRequest
from kefu.errors import BadRequest, Conflict, Forbidden
from kefu.shop_events import ingest
from kefu.shop_events.payloads import decode_events
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer

from tests.support.factories import customer_says

T0 = 1_700_000_000_000


def paid(event_id, order_id, user, amount):
    body = {
        "events": [
            {
                "event_id": event_id,
                "type": "order.paid",
                "occurred_at": T0,
                "customer": {"app_user_id": user},
                "order": {"order_id": order_id, "amount": amount, "created_at": T0},
            }
        ]
    }
    ingest("shop-a", decode_events(json.dumps(body).encode()))


@pytest.fixture
def two_profiles(crm):
    """小明 on WeChat (a resolved conversation, a phone) and the same person as app user alice
    (an order, a tag)."""
    received = customer_says("shop-a", "o-ming", "你好")
    service.resolve(crm["supervisor"], received.conversation_id)
    profiles.update_profile(
        crm["agent"], crm["ming"], msgspec.convert({"phones": ["13812345678"]}, ProfileChange)
    )
    paid("e1", "SO-1", "alice", "10.00")
    Customer(shop_id="shop-a", sk=Customer.key(crm["alice"])).update(
        actions=[Customer.tags.set(["vip"]), Customer.notes.set("app 用户")]
    )
    return {**crm, "conversation": received.conversation_id}


def test_a_preview_shows_what_would_move_and_changes_nothing(two_profiles):
    crm = two_profiles
    before = Customer.get("shop-a", Customer.key(crm["ming"])).serialize()
    shown = merge.preview(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    assert shown["moves"]["conversations"] == 1 and shown["moves"]["identities"] == 1
    assert shown["moves"]["phones"] == 1 and shown["blocked"] is None
    assert shown["purchase_summary_after"]["orders_count"] == 1
    assert Customer.get("shop-a", Customer.key(crm["ming"])).serialize() == before


def test_a_merge_moves_everything_to_the_survivor_and_keeps_the_merged_history(two_profiles):
    crm = two_profiles
    done = merge.merge(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    assert done["moved"] == {"conversations": 1, "tickets": 0, "orders": 0}

    merged = Customer.get("shop-a", Customer.key(crm["ming"]))
    assert merged.merged_into == crm["alice"]
    assert find_identity("shop-a", Identity(WECHAT_OPENID, "o-ming")).customer_id == crm["alice"]
    conv = Conversation.get("shop-a", crm["conversation"])
    assert conv.customer_id == crm["alice"]
    survivor = profiles.get_profile("shop-a", crm["alice"], crm["owner"], reveal=True)
    assert survivor["phones"] == ["13812345678"]  # re-encrypted for the survivor
    assert survivor["tags"] == ["vip"] and survivor["purchase_summary"]["orders_count"] == 1
    assert "wechat_openid:o-ming" in survivor["identities"]
    (record,) = [a for a in AuditRecord.query("shop-a") if a.action == "customer.merged"]
    assert record.target_id == crm["alice"]
    (event,) = crm["env"].events("customer.merged")
    assert event["data"]["merged_id"] == crm["ming"]

    # The person's next message reaches the survivor.
    again = customer_says("shop-a", "o-ming", "还在吗")
    assert Conversation.get("shop-a", again.conversation_id).customer_id == crm["alice"]


def test_orders_move_with_the_merge_and_later_events_find_them(two_profiles):
    crm = two_profiles
    merge.merge(crm["supervisor"], crm["ming"], MergeRequest(crm["alice"]))
    from kefu.customers.search import list_customers

    found = list_customers(crm["agent"], order_id="SO-1")["customers"]
    assert [c["customer_id"] for c in found] == [crm["ming"]]
    paid("e2", "SO-1", "alice", "10.00")  # a late event for the moved order: no second order
    summary = profiles.get_profile("shop-a", crm["ming"], crm["agent"])["purchase_summary"]
    assert summary["orders_count"] == 1 and summary["total_spent"] == 1000


def test_merges_are_refused_for_agents_the_same_customer_and_twice(two_profiles):
    crm = two_profiles
    with pytest.raises(Forbidden):
        merge.merge(crm["agent"], crm["alice"], MergeRequest(crm["ming"]))
    with pytest.raises(BadRequest):
        merge.merge(crm["supervisor"], crm["alice"], MergeRequest(crm["alice"]))
    merge.merge(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    with pytest.raises(Conflict) as err:
        merge.merge(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    assert err.value.code == "customer_merged"


def test_two_open_conversations_block_a_merge(crm):
    customer_says("shop-a", "o-ming", "你好")
    alice_open = customer_says("shop-a", "o-alice-wechat", "hi")
    Customer(shop_id="shop-a", sk=Customer.key(crm["alice"])).update(
        actions=[Customer.open_conversation_id.set(alice_open.conversation_id)]
    )
    shown = merge.preview(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    assert shown["blocked"] == "both_open"
    with pytest.raises(Conflict) as err:
        merge.merge(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    assert err.value.code == "both_open"


def test_erasing_a_merged_profile_leaves_the_survivor_s_identities(two_profiles):
    from kefu.customers import erasure

    crm = two_profiles
    merge.merge(crm["supervisor"], crm["alice"], MergeRequest(crm["ming"]))
    erasure.erase(crm["owner"], crm["ming"])
    assert find_identity("shop-a", Identity(WECHAT_OPENID, "o-ming")).customer_id == crm["alice"]
    assert Customer.get("shop-a", Customer.key(crm["ming"])).erased_at


def test_the_merged_profiles_tags_reach_the_survivor_with_their_history(two_profiles):
    from kefu.tags.assign import history

    crm = two_profiles
    merge.merge(crm["supervisor"], crm["ming"], MergeRequest(crm["alice"]))
    survivor = Customer.get("shop-a", Customer.key(crm["ming"]))
    assert list(survivor.tags) == ["vip"]
    items, _ = history("shop-a", crm["ming"])
    assert [(h["tag_id"], h["action"], h["source"]) for h in items] == [
        ("vip", "added", crm["supervisor"].actor_id)
    ]
    # The merged profile keeps its own tags (its history stays as it was).
    assert list(Customer.get("shop-a", Customer.key(crm["alice"])).tags) == ["vip"]


def test_a_merge_that_would_exceed_the_tag_limit_is_refused_before_anything_moves(two_profiles):
    crm = two_profiles
    Customer(shop_id="shop-a", sk=Customer.key(crm["ming"])).update(
        actions=[Customer.tags.set([f"t{i}" for i in range(100)])]
    )
    with pytest.raises(Conflict) as refused:
        merge.merge(crm["supervisor"], crm["ming"], MergeRequest(crm["alice"]))
    assert refused.value.code == "tag_limit"
    assert Conversation.get("shop-a", crm["conversation"]).customer_id == crm["ming"]
    assert not Customer.get("shop-a", Customer.key(crm["alice"])).merged_into
