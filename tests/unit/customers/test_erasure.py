"""Specification: a customer's data on request — an export of everything kefu holds about them
(owner only, on record first) and an erasure that leaves nothing personal in any table, index
or the media bucket, while the shop's aggregate counts stay."""

import json

import boto3
import msgspec
import pytest
from kefu.audit import AuditRecord
from kefu.conversations import service
from kefu.customers import erasure, profiles, search
from kefu.customers.fields import ProfileChange
from kefu.errors import Conflict, Forbidden
from kefu.ids import now_ms
from kefu.shop_events import ingest
from kefu.shop_events.payloads import decode_events
from kefu.storage.bot_learning import MissItem
from kefu.storage.customers import Customer
from kefu.storage.tx import write_transaction
from kefu.tickets.service import NewComment, NewTicket, add_comment, create_ticket

from tests.support.factories import customer_says

# Distinctive personal data, looked for everywhere after the erasure: what is stored in clear
# until then (messages, tickets, orders, identities, the nickname) and what is stored only
# encrypted (never in clear, before or after).
IN_CLEAR = ("幸福路88号", "SFERASE999", "o-ming", "小明")
ENCRYPTED = ("13812345678", "王小明", "1990-05-17")


def _shop_events(*events):
    ingest("shop-a", decode_events(json.dumps({"events": list(events)}).encode()))


@pytest.fixture
def ming(crm):
    """小明 with a full profile, a conversation (a picture too), an order with its logistics,
    browsing, a ticket with a comment, and a question the bot could not answer."""
    received = customer_says("shop-a", "o-ming", "我家住在幸福路88号，快递到了吗")
    profiles.update_profile(
        crm["agent"],
        crm["ming"],
        msgspec.convert(
            {
                "phones": ["13812345678"],
                "real_name": "王小明",
                "birthday": "1990-05-17",
                "addresses": [{"detail": "幸福路88号", "recipient": "王小明"}],
                "remarks": "住幸福路88号",
            },
            ProfileChange,
        ),
    )
    boto3.client("s3").put_object(
        Bucket="kefu-test-media", Key=f"shop-a/customers/{crm['ming']}/2024/01/01/a.jpg", Body=b"x"
    )
    now = now_ms()
    customer = {"wechat_openid": "o-ming"}
    _shop_events(
        {
            "event_id": "e1",
            "type": "order.shipped",
            "occurred_at": now,
            "customer": customer,
            "order": {"order_id": "SO-9", "amount": "88.00", "created_at": now},
            "carrier": "顺丰",
            "tracking_number": "SFERASE999",
        },
        {
            "event_id": "e2",
            "type": "logistics.updated",
            "occurred_at": now + 1,
            "customer": customer,
            "order": {"order_id": "SO-9"},
            "status": "out_for_delivery",
            "description": "派送至幸福路88号",
        },
        {
            "event_id": "e3",
            "type": "product.viewed",
            "occurred_at": now + 2,
            "customer": customer,
            "product_id": "p1",
            "title": "跑鞋",
        },
    )
    ticket = create_ticket(
        crm["supervisor"],
        NewTicket(subject="小明的快递", description="送到幸福路88号"),
        customer_id=crm["ming"],
    )
    add_comment(crm["supervisor"], ticket["ticket_id"], NewComment(body="已联系, 幸福路88号"))
    from kefu.bot.learning import record_miss

    with write_transaction() as tx:
        record_miss(
            tx,
            "shop-a",
            conversation_id=received.conversation_id,
            customer_id=crm["ming"],
            question="幸福路88号能送吗",
            reason="unanswered",
            best_entry_id=None,
            best_score=None,
            at_ms=now,
        )
    service.resolve(crm["supervisor"], received.conversation_id)
    return crm


def _everything_stored(*, audit: bool = False) -> str:
    """Every item of every table and every object key of the media bucket — read by a Scan,
    here in the test only (kefu itself never scans)."""
    ddb = boto3.client("dynamodb")
    dump = []
    for table in ddb.list_tables()["TableNames"]:
        if table.endswith("-audit") != audit:
            continue
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            dump += [
                {"table": table, **item}
                for item in page["Items"]
                # Inbound de-duplication keys expire within 7 days and no index leads from a
                # customer to them (docs/customers.md "Erasure"); the test's messages put the
                # text in theirs (a real WeChat message's key is its MsgId).
                if not item["pk"]["S"].startswith("DEDUPE#")
            ]
    s3 = boto3.client("s3")
    listing = s3.list_object_versions(Bucket="kefu-test-media")
    keys = [v["Key"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]
    return json.dumps(dump, ensure_ascii=False) + json.dumps(keys)


def test_the_export_holds_everything_and_is_on_record_first(ming):
    out = erasure.export(ming["owner"], ming["ming"])
    assert out["profile"]["phones"] == ["13812345678"]  # decrypted
    assert out["profile"]["real_name"] == "王小明"
    assert "wechat_openid:o-ming" in out["identities"]
    texts = [m["content"].get("text") for c in out["conversations"] for m in c["messages"]]
    assert "我家住在幸福路88号，快递到了吗" in texts
    assert out["orders"][0]["tracking_number"] == "SFERASE999"
    assert [a["product_id"] for a in out["activity"]] == ["p1"]
    assert out["tickets"][0]["description"] == "送到幸福路88号"
    assert out["unanswered_questions"][0]["question"] == "幸福路88号能送吗"
    assert len(out["media"]) == 1
    (record,) = [a for a in AuditRecord.query("shop-a") if a.action == "customer.exported"]
    assert record.actor == "staff:boss"
    with pytest.raises(Forbidden):
        erasure.export(ming["supervisor"], ming["ming"])


def test_after_erasure_nothing_personal_remains_anywhere_and_the_counts_stay(ming):
    before = _everything_stored()
    assert all(s in before for s in IN_CLEAR)  # the check below could fail
    assert not any(s in before for s in ENCRYPTED)

    done = erasure.erase(ming["owner"], ming["ming"])
    assert done["erased"]["media_objects"] == 1 and done["erased"]["orders"] == 1

    after = _everything_stored()
    left = [s for s in IN_CLEAR + ENCRYPTED if s in after]
    assert left == [], left
    # The audit trail is append-only (docs/customers.md "Erasure"): it never held the personal
    # fields in clear (masked values only).
    assert not any(s in _everything_stored(audit=True) for s in ENCRYPTED)

    customer = Customer.get("shop-a", Customer.key(ming["ming"]))
    assert customer.erased_at == done["erased_at"] and customer.identities == []
    assert list(MissItem.query("shop-a")) == []
    assert search.list_customers(ming["agent"], q="13812345678")["customers"] == []
    (event,) = ming["env"].events("customer.erased")
    assert event["data"]["customer_id"] == ming["ming"]

    # The same person writing again is a new customer; erasing again is harmless.
    again = customer_says("shop-a", "o-ming", "你好")
    assert again.customer_id != ming["ming"]
    assert erasure.erase(ming["owner"], ming["ming"])["erased_at"] == done["erased_at"]


def test_the_aggregate_counts_survive_the_erasure(crm):
    now = now_ms()
    _shop_events(
        {
            "event_id": "e1",
            "type": "order.paid",
            "occurred_at": now,
            "customer": {"app_user_id": "alice"},
            "order": {"order_id": "SO-1", "amount": "10.00", "created_at": now},
        }
    )
    erasure.erase(crm["owner"], crm["alice"])
    customer = Customer.get("shop-a", Customer.key(crm["alice"]))
    assert (customer.orders_count, customer.total_spent) == (1, 1000)
    assert customer.display_name is None


def test_erasure_is_owner_only_and_waits_for_an_open_conversation(crm):
    customer_says("shop-a", "o-ming", "你好")
    with pytest.raises(Forbidden):
        erasure.erase(crm["supervisor"], crm["ming"])
    with pytest.raises(Conflict) as err:
        erasure.erase(crm["owner"], crm["ming"])
    assert err.value.code == "open_conversation"
