"""Specification: shop-wide and personal quick replies; sending renders the variables from the
conversation's context and goes out as a normal reply; each use is counted."""

import pytest
from kefu.audit import list_audit
from kefu.conversations import service
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.ids import now_ms
from kefu.storage.customers import Customer
from kefu.storage.orders import Order, customer_key
from kefu.storage.shops import StaffMember
from kefu.workbench import quick_replies as qr
from kefu.workbench.quick_replies import NewQuickReply, QuickReplyChange


def _new(actor, scope="shop", title="发货", text="您好 {customer_name}，已发货"):
    return qr.create_quick_reply(actor, NewQuickReply(scope=scope, title=title, text=text))


def test_supervisors_manage_shop_replies_and_everyone_has_personal_ones(shop):
    shop_reply = _new(shop["sup"])
    assert shop_reply["quick_reply_id"].startswith("qrs_")
    assert shop_reply["variables"] == ["customer_name"]
    with pytest.raises(Forbidden):
        _new(shop["agent1"])
    personal = _new(shop["agent1"], scope="personal", title="问候", text="在的～")
    assert (personal["scope"], personal["owner"]) == ("personal", "agent1")
    listing = qr.list_quick_replies(shop["agent1"])
    assert [r["title"] for r in listing["shop"]] == ["发货"]
    assert [r["title"] for r in listing["personal"]] == ["问候"]
    assert qr.list_quick_replies(shop["agent2"])["personal"] == []
    records, _ = list_audit("shop-a", target=("quick_reply", shop_reply["quick_reply_id"]))
    assert [r["action"] for r in records] == ["quick_reply.created"]


def test_unknown_variables_are_refused_when_written(shop):
    with pytest.raises(BadRequest) as err:
        _new(shop["sup"], text="您好 {nickname}")
    assert err.value.code == "unknown_variable" and "{nickname}" in err.value.message
    created = _new(shop["sup"])
    with pytest.raises(BadRequest):
        qr.update_quick_reply(shop["sup"], created["quick_reply_id"], QuickReplyChange(text="{x}"))


def test_update_and_delete(shop):
    created = _new(shop["sup"])
    changed = qr.update_quick_reply(
        shop["sup"], created["quick_reply_id"], QuickReplyChange(text="单号 {tracking_number}")
    )
    assert (changed["text"], changed["variables"], changed["title"]) == (
        "单号 {tracking_number}",
        ["tracking_number"],
        "发货",
    )
    # {} changes nothing: the quick reply as it is, not an error.
    same = qr.update_quick_reply(shop["sup"], created["quick_reply_id"], QuickReplyChange())
    assert same == qr.get_quick_reply(shop["sup"], created["quick_reply_id"]).to_public()
    with pytest.raises(Forbidden):  # agents use shop replies, they do not change them
        qr.delete_quick_reply(shop["agent1"], created["quick_reply_id"])
    qr.delete_quick_reply(shop["sup"], created["quick_reply_id"])
    with pytest.raises(NotFound):
        qr.get_quick_reply(shop["sup"], created["quick_reply_id"])


def test_personal_replies_are_out_of_other_agents_reach(shop):
    personal = _new(shop["agent1"], scope="personal", text="hi")
    for actor in (shop["agent2"], shop["sup"]):
        with pytest.raises(NotFound):
            qr.update_quick_reply(actor, personal["quick_reply_id"], QuickReplyChange(title="x"))
    with pytest.raises(NotFound):
        qr.get_quick_reply(shop["agent1"], "qrs_not-an-id")


def test_sending_renders_every_variable_and_counts_the_use(shop, conversation, kefu_env):
    received = conversation("xm", "我的快递呢？")
    conv = received.conversation_id
    service.claim(shop["agent1"], conv)
    Customer("shop-a", Customer.key(received.customer_id)).update(
        actions=[Customer.display_name.set("小明")]
    )
    StaffMember("shop-a", StaffMember.key("agent1")).update(
        actions=[StaffMember.display_name.set("小王")]
    )
    at = now_ms()
    Order(
        customer_key("shop-a", received.customer_id),
        Order.key("o-1"),
        shop_id="shop-a",
        customer_id=received.customer_id,
        order_id="o-1",
        shop_order="shop-a#o-1",
        status="shipped",
        tracking_number="SF123",
        placed_at=at,
        last_event_at=at,
        updated_at=at,
    ).save()
    text = (
        "{customer_name}您好，我是{shop_name}的{agent_name}，"
        "订单{order_status}，单号{tracking_number}"
    )
    created = _new(shop["sup"], text=text)
    sent = qr.send_quick_reply(shop["agent1"], conv, created["quick_reply_id"])
    expected = "小明您好，我是Shop shop-a的小王，订单shipped，单号SF123"
    assert sent["content"]["text"] == expected
    assert sent["delivery_status"] == "pending" and sent["sender_id"] == "agent1"
    assert [e["data"]["content"]["text"] for e in kefu_env.events("reply.created")] == [expected]
    qr.send_quick_reply(shop["agent1"], conv, created["quick_reply_id"])
    assert qr.get_quick_reply(shop["agent1"], created["quick_reply_id"]).use_count == 2


def test_a_variable_without_a_value_is_not_sent(shop, conversation, kefu_env):
    conv = conversation("xm").conversation_id
    service.claim(shop["agent1"], conv)
    created = _new(shop["sup"], text="单号 {tracking_number}")
    with pytest.raises(Conflict) as err:
        qr.send_quick_reply(shop["agent1"], conv, created["quick_reply_id"])
    assert err.value.details == {"missing": ["tracking_number"]}
    assert kefu_env.events("reply.created") == []


def test_sending_follows_the_reply_rules(shop, conversation):
    conv = conversation("xm").conversation_id
    service.claim(shop["agent2"], conv)
    created = _new(shop["sup"], text="您好")
    with pytest.raises(Forbidden):
        qr.send_quick_reply(shop["agent1"], conv, created["quick_reply_id"])


# --- scoped to tags or segments (每组专门话术) ----------------------------------------------


def _scoped(actor, title, **scopes):
    return qr.create_quick_reply(
        actor, NewQuickReply(scope="shop", title=title, text=f"{title}话术", **scopes)
    )


def test_replies_scoped_to_a_customers_tag_are_offered_first_for_their_conversation(
    shop, conversation
):
    received = conversation("o-vip")
    Customer("shop-a", Customer.key(received.customer_id)).update(
        actions=[Customer.tags.set(["tag_vip"])]
    )
    general = _scoped(shop["sup"], "通用")
    vip = _scoped(shop["sup"], "贵宾", tags=["tag_vip", "tag_vip"])
    _scoped(shop["sup"], "新客", tags=["tag_new"], segments=["seg_new"])
    for _ in range(3):  # the general reply is the most used: without a scope match it leads
        qr.send_quick_reply(shop["sup"], received.conversation_id, general["quick_reply_id"])

    listing = qr.list_quick_replies(shop["agent1"], received.conversation_id)

    assert vip["tags"] == ["tag_vip"]
    assert [(r["title"], r["matched"]) for r in listing["shop"]] == [
        ("贵宾", True),
        ("通用", False),
        ("新客", False),
    ]
    plain = qr.list_quick_replies(shop["agent1"])
    assert [r["title"] for r in plain["shop"]][0] == "通用"


def test_a_scope_is_changed_or_removed_by_patch_and_audited(shop):
    made = _scoped(shop["sup"], "贵宾", tags=["tag_vip"])
    changed = qr.update_quick_reply(
        shop["sup"], made["quick_reply_id"], QuickReplyChange(tags=[], segments=["seg_big"])
    )
    assert (changed["tags"], changed["segments"]) == ([], ["seg_big"])
    records, _ = list_audit("shop-a", target=("quick_reply", made["quick_reply_id"]))
    updated = [r for r in records if r["action"] == "quick_reply.updated"][0]
    assert updated["before"]["tags"] == ["tag_vip"] and updated["after"]["segments"] == ["seg_big"]


def test_replies_scoped_to_a_saved_segment_holding_the_customer_are_offered_first(
    shop, conversation
):
    """Membership is judged from the customer's item as it is now (no wait for the index)."""
    from kefu.segments.admin import NewSegment, create_segment
    from kefu.segments.filters import Filter, NumberRange, ValueSet

    received = conversation("o-seg")
    Customer("shop-a", Customer.key(received.customer_id)).update(
        actions=[Customer.total_spent.set(800_000), Customer.tier.set("high_value")]
    )
    big = create_segment(
        shop["sup"],
        NewSegment(
            name="大客户",
            filter=Filter(
                and_=[
                    Filter(spend=NumberRange(gte=500_000)),
                    Filter(not_=Filter(tier=ValueSet(in_=["lost"]))),
                ]
            ),
        ),
    )
    small = create_segment(
        shop["sup"], NewSegment(name="小额", filter=Filter(spend=NumberRange(lt=10_000)))
    )
    _scoped(shop["sup"], "大客户", segments=[big["segment_id"]])
    _scoped(shop["sup"], "小额", segments=[small["segment_id"], "seg_gone"])
    _scoped(shop["sup"], "通用")

    listing = qr.list_quick_replies(shop["agent1"], received.conversation_id)

    titles = [(r["title"], r["matched"]) for r in listing["shop"]]
    assert titles[0] == ("大客户", True)
    assert sorted(titles[1:]) == [("小额", False), ("通用", False)]


def test_listing_for_a_conversation_the_agent_may_not_see_is_refused(shop, conversation):
    received = conversation("o-other", shop_id="shop-b")
    with pytest.raises(NotFound):
        qr.list_quick_replies(shop["agent1"], received.conversation_id)
