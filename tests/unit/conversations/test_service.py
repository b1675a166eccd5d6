"""Specification: what staff do with conversations. Agents work the queue and their own
conversations; supervisors see and assign everything; every change is audited and announced."""

import threading

import pytest
from kefu.audit import list_audit
from kefu.conversations import replies, service
from kefu.conversations.content import TextMessage
from kefu.conversations.service import AssignRequest, ListFilter
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.storage.conversations import Conversation
from kefu.storage.messages import Message, conversation_key
from kefu.storage.shops import StaffMember

from tests.support.factories import customer_says, make_shop, make_staff

T0 = 1_700_000_000_000


@pytest.fixture
def shop(kefu_env):
    make_shop("shop-a")
    return {
        "agent1": make_staff("shop-a", "agent1", "agent"),
        "agent2": make_staff("shop-a", "agent2", "agent"),
        "sup": make_staff("shop-a", "sup", "supervisor"),
    }


def _conversation(openid, text="在吗？", at=None):
    return customer_says("shop-a", openid, text, at=at).conversation_id


def _ids(listing):
    return [c["conversation_id"] for c in listing[0]]


def _list(actor, limit=50, cursor=None, **flt):
    return service.list_conversations(actor, ListFilter(**flt), limit=limit, cursor=cursor)


# --- listing -----------------------------------------------------------------------------------


def test_an_agent_lists_the_queue_of_unassigned_conversations(shop):
    older = _conversation("o-1", at=T0)
    newer = _conversation("o-2", at=T0 + 1000)
    mine = _conversation("o-3", at=T0 + 2000)
    service.claim(shop["agent1"], mine)
    assert _ids(_list(shop["agent1"], status="queued")) == [newer, older]


def test_an_agent_lists_their_own_conversations_by_default_or_as_me(shop):
    mine = _conversation("o-1")
    theirs = _conversation("o-2")
    _conversation("o-3")  # queued
    service.claim(shop["agent1"], mine)
    service.claim(shop["agent2"], theirs)
    assert _ids(_list(shop["agent1"])) == [mine]
    assert _ids(_list(shop["agent1"], assignee="me")) == [mine]
    assert _ids(_list(shop["agent1"], assignee="agent1", status="assigned")) == [mine]


@pytest.mark.parametrize(
    "flt",
    [
        {"assignee": "agent2"},
        {"status": "assigned"},
        {"status": "resolved"},
        {"status": "assigned", "queue": "default"},
    ],
    ids=["another-agent", "all-assigned", "all-resolved", "assigned-in-a-queue"],
)
def test_an_agent_cannot_list_other_agents_or_all_conversations(shop, flt):
    with pytest.raises(Forbidden) as err:
        _list(shop["agent1"], **flt)
    assert err.value.code == "permission_denied"


def test_an_agent_filtering_by_queue_sees_only_their_own_conversations_in_it(shop):
    mine = _conversation("o-1")
    theirs = _conversation("o-2")
    _conversation("o-3")
    service.claim(shop["agent1"], mine)
    service.claim(shop["agent2"], theirs)
    assert _ids(_list(shop["agent1"], queue="default")) == [mine]


def test_a_supervisor_lists_every_open_conversation_newest_activity_first(shop):
    queued = _conversation("o-1", at=T0)
    assigned = _conversation("o-2", at=T0 + 1000)
    resolved = _conversation("o-3", at=T0 + 2000)
    service.claim(shop["agent1"], assigned)
    service.claim(shop["agent2"], resolved)
    service.resolve(shop["agent2"], resolved)
    listed = _ids(_list(shop["sup"]))
    assert listed == [assigned, queued]  # claiming touched `assigned`; resolved is not open


def test_a_supervisor_lists_by_status_queue_and_assignee(shop):
    queued = _conversation("o-1")
    a1 = _conversation("o-2")
    a2 = _conversation("o-3")
    service.claim(shop["agent1"], a1)
    service.claim(shop["agent2"], a2)
    sup = shop["sup"]
    assert _ids(_list(sup, status="queued")) == [queued]
    assert set(_ids(_list(sup, status="assigned"))) == {a1, a2}
    assert _ids(_list(sup, assignee="agent2")) == [a2]
    assert set(_ids(_list(sup, queue="default"))) == {queued, a1, a2}
    assert _ids(_list(sup, queue="vip")) == []
    assert _ids(_list(sup, status="queued", queue="default")) == [queued]


def test_an_unknown_status_is_a_bad_request(shop):
    with pytest.raises(BadRequest):
        _list(shop["sup"], status="sleeping")


def test_a_supervisor_pages_through_conversations_with_a_cursor(shop):
    opened = [_conversation(f"o-{i}", at=T0 + i * 1000) for i in range(5)]
    seen, cursor = [], None
    for _ in range(10):
        page, cursor = _list(shop["sup"], limit=2, cursor=cursor, status="queued")
        assert len(page) <= 2
        seen += [c["conversation_id"] for c in page]
        if cursor is None:
            break
    assert seen == list(reversed(opened))


def test_a_cursor_from_another_shop_is_refused(shop):
    make_shop("shop-b")
    for i in range(3):
        customer_says("shop-b", f"o-{i}", "hi")
    boss_b = make_staff("shop-b", "sup", "supervisor")
    _, cursor = service.list_conversations(boss_b, ListFilter(), limit=1, cursor=None)
    assert cursor
    with pytest.raises(BadRequest) as err:
        _list(shop["sup"], cursor=cursor)
    assert err.value.code == "invalid_cursor"


# --- visibility --------------------------------------------------------------------------------


def test_an_agent_cannot_open_another_agents_conversation(shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    with pytest.raises(Forbidden) as err:
        service.get_conversation(shop["agent2"], cid)
    assert err.value.code == "not_your_conversation"
    assert service.get_conversation(shop["sup"], cid).assignee == "agent1"


def test_a_conversation_of_another_shop_is_not_found(shop):
    make_shop("shop-b")
    other = customer_says("shop-b", "o-1", "hi").conversation_id
    for actor in shop.values():
        with pytest.raises(NotFound):
            service.get_conversation(actor, other)
    with pytest.raises(NotFound):
        service.claim(shop["agent1"], other)
    assert Conversation.get("shop-b", other).assignee is None


# --- claiming and assigning --------------------------------------------------------------------


def test_claiming_assigns_the_conversation_audits_it_and_announces_it(kefu_env, shop):
    cid = _conversation("o-1")
    result = service.claim(shop["agent1"], cid)

    assert (result["status"], result["assignee"]) == ("assigned", "agent1")
    conv = Conversation.get("shop-a", cid)
    assert (conv.status, conv.assignee, conv.shop_assignee) == (
        "assigned",
        "agent1",
        "shop-a#agent1",
    )
    assert conv.assigned_at == result["assigned_at"]
    (record,) = list_audit("shop-a", target=("conversation", cid))[0]
    assert (record["action"], record["actor"]) == ("conversation.claimed", "staff:agent1")
    assert record["before"] == {"status": "queued", "assignee": None}
    assert record["after"] == {"status": "assigned", "assignee": "agent1"}
    (event,) = kefu_env.events("conversation.assigned")
    assert event["shop_id"] == "shop-a"
    assert event["data"] == {
        "conversation_id": cid,
        "assignee": "agent1",
        "previous_assignee": None,
        "by": "agent1",
    }


def test_claiming_your_own_conversation_again_changes_nothing(kefu_env, shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    assert service.claim(shop["agent1"], cid)["assignee"] == "agent1"
    assert len(list_audit("shop-a", target=("conversation", cid))[0]) == 1
    assert len(kefu_env.events("conversation.assigned")) == 1


def test_a_second_agent_claiming_a_claimed_conversation_is_a_conflict(shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    with pytest.raises(Conflict):
        service.claim(shop["agent2"], cid)
    assert Conversation.get("shop-a", cid).assignee == "agent1"


def _racing(monkeypatch, change):
    """get_conversation returns what it read, after `change` has altered the stored copy."""
    real = service.get_conversation

    def read_then_race(actor, conversation_id):
        conv = real(actor, conversation_id)
        monkeypatch.setattr(service, "get_conversation", real)  # race once
        change(conversation_id)
        return conv

    monkeypatch.setattr(service, "get_conversation", read_then_race)


def test_a_claim_that_loses_the_race_at_the_write_is_a_conflict_and_not_audited(
    kefu_env, shop, monkeypatch
):
    cid = _conversation("o-1")
    _racing(monkeypatch, lambda c: service.claim(shop["agent2"], c))
    with pytest.raises(Conflict) as err:
        service.claim(shop["agent1"], cid)
    assert err.value.code == "assignment_conflict"
    assert Conversation.get("shop-a", cid).assignee == "agent2"
    (record,) = list_audit("shop-a", target=("conversation", cid))[0]
    assert record["actor"] == "staff:agent2"
    assert [e["data"]["assignee"] for e in kefu_env.events("conversation.assigned")] == ["agent2"]


def test_two_agents_claiming_at_once_exactly_one_wins(kefu_env, shop):
    cid = _conversation("o-1")
    start = threading.Barrier(2)
    won, lost, errors = [], [], []

    def claim(actor):
        start.wait()
        try:
            won.append(service.claim(actor, cid)["assignee"])
        except Conflict:
            lost.append(actor.username)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(shop[a],)) for a in ("agent1", "agent2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    assert len(won) == 1 and len(lost) == 1 and won[0] != lost[0]
    assert Conversation.get("shop-a", cid).assignee == won[0]
    assert len(list_audit("shop-a", target=("conversation", cid))[0]) == 1
    assert [e["data"]["assignee"] for e in kefu_env.events("conversation.assigned")] == won


def test_a_supervisor_assigns_and_reassigns(kefu_env, shop):
    cid = _conversation("o-1")
    service.assign(shop["sup"], cid, AssignRequest(assignee="agent1"))
    result = service.assign(shop["sup"], cid, AssignRequest(assignee="agent2"))
    assert result["assignee"] == "agent2"
    assert Conversation.get("shop-a", cid).assignee == "agent2"
    records = list_audit("shop-a", target=("conversation", cid))[0]
    assert [r["after"]["assignee"] for r in records] == ["agent2", "agent1"]
    last = kefu_env.events("conversation.assigned")[-1]["data"]
    assert (last["assignee"], last["previous_assignee"], last["by"]) == ("agent2", "agent1", "sup")


def test_a_supervisor_assigning_a_conversation_that_changed_meanwhile_gets_a_conflict(
    shop, monkeypatch
):
    cid = _conversation("o-1")
    _racing(monkeypatch, lambda c: service.claim(shop["agent2"], c))
    with pytest.raises(Conflict) as err:
        service.assign(shop["sup"], cid, AssignRequest(assignee="agent1"))
    assert err.value.code == "assignment_conflict"
    assert Conversation.get("shop-a", cid).assignee == "agent2"


@pytest.mark.parametrize("to", ["agent1", "agent2"])
def test_assigning_a_resolved_conversation_is_a_conflict_not_a_crash(shop, to):
    from kefu.storage.workbench import AgentState

    cid = _conversation("o-1")
    service.assign(shop["sup"], cid, AssignRequest(assignee="agent1"))
    service.resolve(shop["sup"], cid)
    with pytest.raises(Conflict) as err:  # to its previous assignee: one item twice, before
        service.assign(shop["sup"], cid, AssignRequest(assignee=to))
    assert err.value.code == "not_open" and "resolved" in err.value.message
    # The resolve gave agent1 their slot back; nothing took it again, or twice.
    assert int(AgentState.get("shop-a", AgentState.key("agent1")).active) == 0


def test_an_agent_cannot_assign(shop):
    cid = _conversation("o-1")
    with pytest.raises(Forbidden):
        service.assign(shop["agent1"], cid, AssignRequest(assignee="agent2"))


def test_assigning_to_a_disabled_staff_member_is_a_conflict(shop):
    cid = _conversation("o-1")
    StaffMember("shop-a", StaffMember.key("agent2")).update(
        actions=[StaffMember.status.set("disabled")]
    )
    with pytest.raises(Conflict) as err:
        service.assign(shop["sup"], cid, AssignRequest(assignee="agent2"))
    assert err.value.code == "staff_disabled"
    assert Conversation.get("shop-a", cid).assignee is None


def test_assigning_to_an_unknown_or_other_shops_staff_member_is_not_found(shop):
    make_shop("shop-b")
    make_staff("shop-b", "outsider")
    cid = _conversation("o-1")
    for name in ("nobody", "outsider"):
        with pytest.raises(NotFound) as err:
            service.assign(shop["sup"], cid, AssignRequest(assignee=name))
        assert err.value.code == "staff_not_found"


# --- replying ----------------------------------------------------------------------------------


def _outbound(cid):
    return [m for m in Message.query(conversation_key("shop-a", cid)) if m.direction == "out"]


def test_a_reply_is_stored_pending_delivery_and_announced(kefu_env, shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    view = replies.reply(shop["agent1"], cid, TextMessage(text="您好，请问有什么可以帮您？"))

    assert view["delivery_status"] == "pending"
    assert (view["direction"], view["sender_type"], view["sender_id"]) == ("out", "agent", "agent1")
    (stored,) = _outbound(cid)
    assert stored.message_id == view["message_id"]
    assert stored.content["text"] == "您好，请问有什么可以帮您？"
    assert (stored.delivery_status, stored.delivery_attempts) == ("pending", 0)
    (event,) = kefu_env.events("reply.created")
    assert event["event_id"] == f"reply.created:{view['message_id']}"
    data = event["data"]
    assert data["reply_to"] == "wechat_openid:o-1"
    assert data["channel"] == "wechat_miniprogram"
    assert (data["message_id"], data["msg_key"]) == (view["message_id"], stored.msg_key)
    assert data["content"] == {"text": "您好，请问有什么可以帮您？"}
    assert data["sender"] == {"type": "agent", "id": "agent1"}


def test_a_reply_marks_the_conversation_read_and_sets_first_response_once(shop):
    cid = _conversation("o-1")
    customer_says("shop-a", "o-1", "还在吗？")
    assert Conversation.get("shop-a", cid).unread_count == 2
    service.claim(shop["agent1"], cid)

    first = replies.reply(shop["agent1"], cid, TextMessage(text="在的"))
    conv = Conversation.get("shop-a", cid)
    assert conv.first_response_at == first["created_at"]
    assert (conv.unread_count, conv.message_count) == (0, 3)
    assert conv.last_message_preview == "在的"

    customer_says("shop-a", "o-1", "好的")
    replies.reply(shop["agent1"], cid, TextMessage(text="还有别的问题吗？"))
    conv = Conversation.get("shop-a", cid)
    assert conv.first_response_at == first["created_at"]
    assert conv.unread_count == 0


def test_an_agent_must_claim_before_replying(kefu_env, shop):
    cid = _conversation("o-1")
    with pytest.raises(Conflict) as err:
        replies.reply(shop["agent2"], cid, TextMessage(text="hi"))
    assert err.value.code == "not_assigned_to_you"
    assert _outbound(cid) == []
    assert kefu_env.events("reply.created") == []


def test_an_agent_cannot_reply_in_another_agents_conversation(shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    with pytest.raises(Forbidden):
        replies.reply(shop["agent2"], cid, TextMessage(text="hi"))
    assert _outbound(cid) == []


def test_a_supervisor_may_step_in_and_reply_without_claiming(shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    assert replies.reply(shop["sup"], cid, TextMessage(text="主管来了"))["sender_id"] == "sup"


# --- resolving ---------------------------------------------------------------------------------


def test_resolving_marks_the_conversation_resolved_audits_and_announces_it(kefu_env, shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    result = service.resolve(shop["agent1"], cid)

    assert (result["status"], result["unread_count"]) == ("resolved", 0)
    conv = Conversation.get("shop-a", cid)
    assert (conv.status, conv.resolved_by, conv.shop_status) == (
        "resolved",
        "agent1",
        "shop-a#resolved",
    )
    assert conv.resolved_at == result["resolved_at"]
    latest = list_audit("shop-a", target=("conversation", cid))[0][0]
    assert latest["action"] == "conversation.resolved"
    assert latest["before"] == {"status": "assigned"}
    assert latest["after"] == {"status": "resolved", "resolved_by": "agent1"}
    (event,) = kefu_env.events("conversation.resolved")
    assert event["data"] == {
        "conversation_id": cid,
        "customer_id": conv.customer_id,
        "by": "agent1",
    }


def test_resolving_twice_changes_nothing(kefu_env, shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    service.resolve(shop["agent1"], cid)
    assert service.resolve(shop["agent1"], cid)["status"] == "resolved"
    assert len(kefu_env.events("conversation.resolved")) == 1


def test_another_agent_cannot_resolve(shop):
    cid = _conversation("o-1")
    queued = _conversation("o-2")
    service.claim(shop["agent1"], cid)
    for conversation_id in (cid, queued):
        with pytest.raises(Forbidden):
            service.resolve(shop["agent2"], conversation_id)
    assert Conversation.get("shop-a", cid).status == "assigned"
    assert Conversation.get("shop-a", queued).status == "queued"


def test_resolving_a_conversation_that_changed_meanwhile_is_a_conflict_and_not_audited(
    kefu_env, shop, monkeypatch
):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    _racing(monkeypatch, lambda c: service.resolve(shop["sup"], c))
    with pytest.raises(Conflict) as err:
        service.resolve(shop["agent1"], cid)
    assert err.value.code == "stale"
    assert Conversation.get("shop-a", cid).resolved_by == "sup"
    assert len(kefu_env.events("conversation.resolved")) == 1


def test_a_supervisor_may_resolve_any_conversation(shop):
    cid = _conversation("o-1")
    service.claim(shop["agent1"], cid)
    assert service.resolve(shop["sup"], cid)["resolved_by"] == "sup"
