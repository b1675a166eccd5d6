"""Specification: a customer's message is stored once and lands in their one open conversation."""

import threading

from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.storage.messages import Message, conversation_key

from tests.support.factories import customer_says, make_shop


def _messages(shop_id, conversation_id):
    return list(Message.query(conversation_key(shop_id, conversation_id)))


def test_first_message_opens_a_queued_conversation_in_the_default_queue(kefu_env):
    make_shop("shop-a")
    r = customer_says("shop-a", "openid-1", "在吗？")
    assert r.new_conversation and not r.duplicate
    conv = Conversation.get("shop-a", r.conversation_id)
    assert (conv.status, conv.queue, conv.unread_count, conv.message_count) == (
        "queued",
        "default",
        1,
        1,
    )
    assert conv.last_message_preview == "在吗？"
    assert conv.reply_to == "wechat_openid:openid-1"
    customer = Customer.get("shop-a", Customer.key(r.customer_id))
    assert customer.open_conversation_id == r.conversation_id


def test_a_queued_conversation_is_listed_with_when_it_started_waiting(kefu_env):
    from kefu.conversations.service import ListFilter, list_conversations

    from tests.support.factories import make_staff

    make_shop("shop-a")
    r = customer_says("shop-a", "openid-1", "在吗？", at=1_700_000_000_000)
    conv = Conversation.get("shop-a", r.conversation_id)
    assert conv.queued_at == conv.opened_at == 1_700_000_000_000
    listed, _ = list_conversations(
        make_staff("shop-a", "agent1"), ListFilter(status="queued"), limit=10, cursor=None
    )
    assert [c["queued_at"] for c in listed] == [1_700_000_000_000]


def test_next_messages_append_to_the_same_conversation_in_time_order(kefu_env):
    make_shop("shop-a")
    first = customer_says("shop-a", "openid-1", "one", at=1_700_000_000_000)
    second = customer_says("shop-a", "openid-1", "two", at=1_700_000_000_500)
    assert second.conversation_id == first.conversation_id and not second.new_conversation
    texts = [m.content["text"] for m in _messages("shop-a", first.conversation_id)]
    assert texts == ["one", "two"]
    assert Conversation.get("shop-a", first.conversation_id).unread_count == 2


def test_a_repeated_push_is_stored_once_and_reports_the_first_copy(kefu_env):
    make_shop("shop-a")
    first = customer_says("shop-a", "openid-1", "hi", dedupe_key="msg:123")
    again = customer_says("shop-a", "openid-1", "hi", dedupe_key="msg:123")
    third = customer_says("shop-a", "openid-1", "hi", dedupe_key="msg:123")
    assert again.duplicate and third.duplicate
    assert again.message_id == first.message_id and again.msg_key == first.msg_key
    assert len(_messages("shop-a", first.conversation_id)) == 1
    assert Conversation.get("shop-a", first.conversation_id).message_count == 1


def test_concurrent_first_messages_create_one_customer_and_one_conversation(kefu_env):
    make_shop("shop-a")
    results, errors = [], []

    def send(i):
        try:
            results.append(customer_says("shop-a", "openid-race", f"m{i}", dedupe_key=f"k{i}"))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.customer_id for r in results}) == 1
    assert len({r.conversation_id for r in results}) == 1
    assert len(_messages("shop-a", results[0].conversation_id)) == 6


def test_the_same_openid_in_two_shops_is_two_customers(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    a = customer_says("shop-a", "openid-1", "hi")
    b = customer_says("shop-b", "openid-1", "hi")
    assert a.customer_id != b.customer_id
    assert a.conversation_id != b.conversation_id


def test_a_message_after_resolve_reopens_the_conversation_for_the_same_agent(kefu_env):
    from kefu.conversations import service

    from tests.support.factories import make_staff

    make_shop("shop-a")
    agent = make_staff("shop-a", "agent1")
    r = customer_says("shop-a", "openid-1", "hi")
    service.claim(agent, r.conversation_id)
    service.resolve(agent, r.conversation_id)
    back = customer_says("shop-a", "openid-1", "one more thing")
    assert back.conversation_id == r.conversation_id and back.reopened
    conv = Conversation.get("shop-a", r.conversation_id)
    assert (conv.status, conv.assignee) == ("assigned", "agent1")


def test_after_close_the_next_message_opens_a_new_conversation(kefu_env):
    from kefu.conversations import service
    from kefu.conversations.housekeeping import close_quiet_conversations

    from tests.support.factories import make_staff

    make_shop("shop-a")
    agent = make_staff("shop-a", "agent1")
    r = customer_says("shop-a", "openid-1", "hi")
    service.claim(agent, r.conversation_id)
    service.resolve(agent, r.conversation_id)
    quiet_for_25_hours = (
        Conversation.get("shop-a", r.conversation_id).last_activity_at + 25 * 3600_000
    )
    closed = close_quiet_conversations(now=quiet_for_25_hours)
    assert closed == 1
    assert Conversation.get("shop-a", r.conversation_id).status == "closed"
    nxt = customer_says("shop-a", "openid-1", "new question")
    assert nxt.new_conversation and nxt.conversation_id != r.conversation_id
