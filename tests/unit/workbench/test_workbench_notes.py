"""Specification: internal notes are in the staff timeline, never in the customer's view, never
delivered; mentions notify colleagues through `staff.mentioned`."""

import pytest
from kefu.auth.actors import CustomerActor
from kefu.conversations import service
from kefu.conversations.customer import customer_messages
from kefu.conversations.messages import list_messages
from kefu.errors import BadRequest, Forbidden
from kefu.workbench.notes import NoteRequest, add_note


def test_a_note_is_stored_for_staff_and_hidden_from_the_customer(shop, conversation, kefu_env):
    received = conversation("xm", "我要退货")
    conv = received.conversation_id
    note = add_note(shop["agent1"], conv, NoteRequest(text="老客户，优先处理"))
    assert (note["direction"], note["type"], note["sender_id"]) == ("internal", "note", "agent1")
    assert "delivery_status" not in note
    staff_view, _ = list_messages("shop-a", conv)
    assert [m.direction for m in staff_view] == ["in", "internal"]
    customer = CustomerActor(
        "shop-a", received.customer_id, "wechat_openid", "xm", "wechat_miniprogram"
    )
    seen = customer_messages(customer, conversation_id=None, after=None, before=None, limit=50)
    assert [m["content"]["text"] for m in seen["messages"]] == ["我要退货"]
    # The cursor moves past the note, so polling does not fetch it again and again.
    assert seen["next_cursor"] == note["cursor"]
    assert kefu_env.events("reply.created") == []


def test_mentions_emit_staff_mentioned_events(shop, conversation, kefu_env):
    conv = conversation("xm").conversation_id
    note = add_note(
        shop["agent1"], conv, NoteRequest(text="@sup 请看一下", mentions=["sup", "agent2", "sup"])
    )
    assert note["content"]["mentions"] == ["sup", "agent2"]
    assert note["mentions_notified"] is True
    events = kefu_env.events("staff.mentioned")
    assert sorted(e["data"]["mentioned"] for e in events) == ["agent2", "sup"]
    assert {e["data"]["by"] for e in events} == {"agent1"}
    assert {e["data"]["conversation_id"] for e in events} == {conv}


def test_mentioning_an_unknown_colleague_is_refused(shop, conversation):
    conv = conversation("xm").conversation_id
    with pytest.raises(BadRequest) as err:
        add_note(shop["agent1"], conv, NoteRequest(text="hi", mentions=["nobody"]))
    assert err.value.code == "unknown_mention"


def test_agents_cannot_note_other_agents_conversations(shop, conversation):
    conv = conversation("xm").conversation_id
    service.claim(shop["agent2"], conv)
    with pytest.raises(Forbidden):
        add_note(shop["agent1"], conv, NoteRequest(text="hi"))
    assert add_note(shop["sup"], conv, NoteRequest(text="看一下"))["sender_id"] == "sup"
