"""Specification: one call returns a conversation with its customer's context — messages,
profile (contact masked by role), orders with logistics, open tickets, previous conversations —
in at most six DynamoDB requests, none a Scan."""

import botocore.client
import pytest
from kefu.conversations import replies, service
from kefu.conversations.content import TextMessage
from kefu.errors import Forbidden, NotFound
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.storage.orders import LogisticsUpdate, Order, customer_key
from kefu.storage.tickets import Ticket
from kefu.workbench import common
from kefu.workbench.context import conversation_context


@pytest.fixture
def requests_made(monkeypatch):
    """Every AWS request made through botocore (pynamodb's included), as (service, operation)."""
    calls = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        calls.append((self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def _customer(conv_id):
    conv = Conversation.get("shop-a", conv_id)
    return conv.customer_id


def _order(customer_id, order_id, placed_at, status="shipped", tracking="SF1234567890"):
    at = now_ms()
    Order(
        customer_key("shop-a", customer_id),
        Order.key(order_id),
        shop_id="shop-a",
        customer_id=customer_id,
        order_id=order_id,
        shop_order=f"shop-a#{order_id}",
        status=status,
        amount="79.00",
        carrier="SF",
        tracking_number=tracking,
        logistics=[
            LogisticsUpdate(event_id="e1", status="in_transit", description="已揽收", at=at)
        ],
        placed_at=placed_at,
        last_event_at=at,
        updated_at=at,
    ).save()


def _ticket(customer_id, ticket_id, status):
    at = now_ms()
    Ticket(
        "shop-a",
        f"TICKET#{ticket_id}",
        ticket_id=ticket_id,
        type="after_sales",
        priority="normal",
        status=status,
        subject=f"ticket {ticket_id}",
        customer_id=customer_id,
        created_by="agent1",
        created_at=at,
        updated_at=at,
        shop_status=f"shop-a#{status}",
        shop_customer=f"shop-a#{customer_id}",
    ).save()


@pytest.fixture
def rich(shop, conversation):
    """小明: two earlier conversations (resolved), orders, tickets, and an open conversation
    assigned to agent1 with a few messages."""
    first = conversation("xm", "上次的问题", at=now_ms() - 10_000).conversation_id
    service.claim(shop["agent2"], first)
    service.resolve(shop["agent2"], first)
    Conversation("shop-a", first).update(
        actions=[Conversation.status.set("closed"), Conversation.shop_status.set("shop-a#closed")]
    )
    Customer("shop-a", Customer.key(_customer(first))).update(
        actions=[Customer.open_conversation_id.remove()]
    )
    conv = conversation("xm", "我的快递到哪了？").conversation_id
    assert conv != first
    service.claim(shop["agent1"], conv)
    replies.reply(shop["agent1"], conv, TextMessage(text="我帮您查一下"))
    customer_id = _customer(conv)
    Customer("shop-a", Customer.key(customer_id)).update(
        actions=[
            Customer.display_name.set("小明"),
            Customer.tier.set("vip"),
            Customer.tags.set(["老客户", "爱砍价"]),
            Customer.notes.set("只在晚上回复"),
            Customer.contact.set("13812345678"),
        ]
    )
    _order(customer_id, "o-1", now_ms() - 5_000, status="delivered", tracking="SF0001")
    _order(customer_id, "o-2", now_ms(), status="shipped", tracking="SF0002")
    _ticket(customer_id, "tk-open", "open")
    _ticket(customer_id, "tk-done", "resolved")
    return {"conv": conv, "first": first, "customer_id": customer_id}


def test_the_context_call_returns_everything_beside_the_conversation(shop, rich):
    ctx = conversation_context("shop-a", "agent1", rich["conv"])
    assert ctx["conversation"]["conversation_id"] == rich["conv"]
    assert [m["content"]["text"] for m in ctx["messages"]["messages"]] == [
        "我的快递到哪了？",
        "我帮您查一下",
    ]
    assert ctx["messages"]["has_more"] is False
    profile = ctx["customer"]
    assert (profile["display_name"], profile["tier"], profile["tags"], profile["notes"]) == (
        "小明",
        "vip",
        ["老客户", "爱砍价"],
        "只在晚上回复",
    )
    assert [o["order_id"] for o in ctx["orders"]] == ["o-2", "o-1"]
    assert ctx["orders"][0]["tracking_number"] == "SF0002"
    assert ctx["orders"][0]["latest_logistics"]["status"] == "in_transit"
    assert [t["ticket_id"] for t in ctx["open_tickets"]] == ["tk-open"]
    previous = ctx["previous_conversations"]
    assert [c["conversation_id"] for c in previous] == [rich["first"]]


def test_the_context_call_makes_at_most_six_dynamodb_requests_and_no_scan(
    shop, rich, requests_made
):
    conversation_context("shop-a", "agent1", rich["conv"])
    ddb = [op for service_name, op in requests_made if service_name == "dynamodb"]
    assert len(ddb) <= 6, ddb
    assert "Scan" not in ddb
    # The staff record (auth) and the conversation are read in one request; the customer and
    # their latest browsing (OrdersTable's RECENT item) in another.
    assert ddb.count("BatchGetItem") == 2 and ddb.count("GetItem") == 0
    assert ddb.count("Query") == 4


def test_the_context_shows_browsing_and_cart_activity_and_each_order_s_whole_trail(shop, rich):
    import json

    from kefu.shop_events import ingest
    from kefu.shop_events.payloads import decode_events

    conv = Conversation.get("shop-a", rich["conv"])
    openid = Customer.get("shop-a", Customer.key(conv.customer_id)).identities[0].split(":", 1)[1]
    at = now_ms()
    events = [
        {
            "event_id": f"v{n}",
            "type": "product.viewed" if n % 2 else "cart.item_added",
            "occurred_at": at + n,
            "customer": {"wechat_openid": openid},
            "product_id": f"p{n}",
            "title": f"商品{n}",
            **({} if n % 2 else {"quantity": 1}),
        }
        for n in range(12)
    ]
    ingest("shop-a", decode_events(json.dumps({"events": events}).encode()))
    ctx = conversation_context("shop-a", "agent1", rich["conv"])
    # The latest ten, newest first.
    assert [a["product_id"] for a in ctx["recent_activity"]] == [f"p{n}" for n in range(11, 1, -1)]
    assert ctx["recent_activity"][0]["type"] == "product.viewed"
    assert [u["description"] for u in ctx["orders"][0]["logistics"]] == ["已揽收"]


@pytest.mark.parametrize(
    ("role_user", "contact", "masked"),
    [
        ("agent1", "138****5678", True),
        ("sup", "13812345678", False),
        ("owner", "13812345678", False),
    ],
)
def test_the_contact_is_masked_unless_the_role_may_read_it(shop, rich, role_user, contact, masked):
    profile = conversation_context("shop-a", role_user, rich["conv"])["customer"]
    assert (profile["contact"], profile["contact_masked"]) == (contact, masked)


def test_masking_keeps_enough_to_confirm_a_number():
    assert common.mask_contact("13812345678") == "138****5678"
    assert common.mask_contact("+8613812345678") == "+86*******5678"
    assert common.mask_contact("12345") == "***45"
    assert common.mask_contact(None) is None


def test_other_agents_conversations_are_refused_and_history_is_redacted(shop, rich, conversation):
    with pytest.raises(Forbidden):
        conversation_context("shop-a", "agent2", rich["conv"])
    # agent1 sees agent2's earlier conversation with this customer without its content.
    prev = conversation_context("shop-a", "agent1", rich["conv"])["previous_conversations"][0]
    assert prev["redacted"] is True and "last_message_preview" not in prev
    sup_prev = conversation_context("shop-a", "sup", rich["conv"])["previous_conversations"][0]
    assert sup_prev["last_message_preview"] == "上次的问题"


def test_unknown_conversations_other_shops_and_disabled_staff_are_refused(shop, rich):
    with pytest.raises(NotFound):
        conversation_context("shop-a", "agent1", "cv_nope")
    with pytest.raises(NotFound):  # shop-b's agent1 cannot reach shop-a's conversation
        conversation_context("shop-b", "agent1", rich["conv"])
    with pytest.raises(Forbidden) as err:
        conversation_context("shop-a", "ghost", rich["conv"])
    assert err.value.code == "staff_not_found"


def test_a_customer_without_orders_or_tickets_has_empty_context(shop, conversation):
    conv = conversation("new-one", "hi").conversation_id
    ctx = conversation_context("shop-a", "agent1", conv)
    assert (ctx["orders"], ctx["open_tickets"], ctx["previous_conversations"]) == ([], [], [])
    assert ctx["customer"]["contact"] is None and ctx["customer"]["contact_masked"] is False


def test_the_profile_beside_a_conversation_shows_the_tier_scores_and_points(shop, rich):
    Customer("shop-a", Customer.key(rich["customer_id"])).update(
        actions=[
            Customer.rfm.set({"r": 5, "f": 4, "m": 3}),
            Customer.points.set(1200),
            Customer.member_level.set("silver"),
        ]
    )
    profile = conversation_context("shop-a", "agent1", rich["conv"])["customer"]
    assert (profile["rfm"], profile["points"], profile["member_level"]) == (
        {"r": 5, "f": 4, "m": 3},
        1200,
        "silver",
    )


def test_a_customer_with_custom_attributes_costs_the_context_call_nothing_more(
    shop, rich, requests_made
):
    Customer(shop_id="shop-a", sk=Customer.key(rich["customer_id"])).update(
        actions=[Customer.attributes.set({"vip_since": "2024-01-31"})]
    )
    requests_made.clear()
    conversation_context("shop-a", "agent1", rich["conv"])
    ddb = [op for service_name, op in requests_made if service_name == "dynamodb"]
    assert len(ddb) == 6, ddb
