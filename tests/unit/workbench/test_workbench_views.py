"""Specification: the agent's views and their counts — mine, snoozed, my queues, unassigned,
waiting longest, all (supervisors) — each one index Query, counts bounded, never a Scan."""

import pytest
from kefu.conversations import service
from kefu.errors import BadRequest, Forbidden
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation
from kefu.storage.workbench import QueueItem
from kefu.workbench import states, views
from kefu.workbench.states import SnoozeRequest

T0 = 1_700_000_000_000


def _ids(actor, view, **kw):
    items, _ = views.list_view(
        actor, view, limit=kw.pop("limit", 50), cursor=kw.pop("cursor", None)
    )
    return [c["conversation_id"] for c in items]


def _counts(actor):
    return {v["view"]: v["count"] for v in views.view_counts(actor)["views"]}


def _queue(conv_id, queue):
    Conversation("shop-a", conv_id).update(
        actions=[Conversation.queue.set(queue), Conversation.shop_queue.set(f"shop-a#{queue}")]
    )


@pytest.fixture
def floor(shop, conversation):
    old = conversation("c-old", at=T0).conversation_id
    new = conversation("c-new", at=T0 + 1000).conversation_id
    mine = conversation("c-mine", at=T0 + 2000).conversation_id
    theirs = conversation("conv-theirs", at=T0 + 3000).conversation_id
    service.claim(shop["agent1"], mine)
    service.claim(shop["agent2"], theirs)
    return {"old": old, "new": new, "mine": mine, "theirs": theirs}


def test_each_view_lists_its_conversations(shop, floor):
    a1 = shop["agent1"]
    assert _ids(a1, "mine") == [floor["mine"]]
    assert _ids(a1, "unassigned") == [floor["new"], floor["old"]]
    assert _ids(a1, "waiting_longest") == [floor["old"], floor["new"]]
    # No queue items yet: the shop's default queue is everyone's.
    assert _ids(a1, "my_queues") == [floor["new"], floor["old"]]
    all_open = _ids(shop["sup"], "all")
    assert set(all_open) == set(floor.values())


def test_counts_per_view_for_an_agent_and_a_supervisor(shop, floor):
    assert _counts(shop["agent1"]) == {
        "mine": 1,
        "snoozed": 0,
        "my_queues": 2,
        "unassigned": 2,
        "waiting_longest": 2,
    }
    assert _counts(shop["sup"])["all"] == 4
    result = views.view_counts(shop["agent1"])
    assert result["my_queues"] == ["default"] and result["count_cap"] == views.COUNT_CAP
    assert all(v["more"] is False for v in result["views"])


def test_counts_are_bounded_and_say_so(shop, floor, monkeypatch):
    monkeypatch.setattr(views, "COUNT_CAP", 1)
    counted = {v["view"]: v for v in views.view_counts(shop["agent1"])["views"]}
    assert counted["unassigned"]["count"] <= 1 and counted["unassigned"]["more"] is True


def test_my_queues_follows_queue_membership(shop, floor, conversation):
    vip = conversation("c-vip", at=T0 + 5000).conversation_id
    _queue(vip, "vip")
    at = now_ms()
    for queue_id, members, open_to_all in (("default", [], True), ("vip", ["agent2"], False)):
        QueueItem(
            "shop-a",
            QueueItem.key(queue_id),
            queue_id=queue_id,
            name=queue_id,
            members=members,
            open_to_all=open_to_all,
            created_at=at,
            updated_at=at,
        ).save()
    assert vip not in _ids(shop["agent1"], "my_queues")
    assert _ids(shop["agent2"], "my_queues")[0] == vip
    assert views.view_counts(shop["agent2"])["my_queues"] == ["default", "vip"]
    assert _counts(shop["agent2"])["my_queues"] == 3


def test_snoozed_conversations_leave_mine_until_their_time(shop, floor):
    a1 = shop["agent1"]
    states.snooze(a1, floor["mine"], SnoozeRequest(until=now_ms() + 3_600_000))
    assert _ids(a1, "mine") == []
    assert _ids(a1, "snoozed") == [floor["mine"]]
    assert _counts(a1)["mine"] == 0 and _counts(a1)["snoozed"] == 1
    # The time passes: it is back in "mine" without anyone touching it.
    Conversation("shop-a", floor["mine"]).update(
        actions=[Conversation.snoozed_until.set(now_ms() - 1)]
    )
    assert _ids(a1, "mine") == [floor["mine"]]


def test_the_all_view_is_for_supervisors(shop, floor):
    with pytest.raises(Forbidden):
        _ids(shop["agent1"], "all")
    assert "all" not in _counts(shop["agent1"])


def test_unknown_views_are_refused(shop):
    with pytest.raises(BadRequest) as err:
        _ids(shop["agent1"], "everything")
    assert err.value.code == "invalid_view"


def test_views_page_with_a_cursor(shop, floor):
    items, cursor = views.list_view(shop["agent1"], "unassigned", limit=1, cursor=None)
    assert [c["conversation_id"] for c in items] == [floor["new"]] and cursor
    rest, _ = views.list_view(shop["agent1"], "unassigned", limit=1, cursor=cursor)
    assert [c["conversation_id"] for c in rest] == [floor["old"]]


def test_views_stay_in_the_actors_shop(shop, floor, conversation):
    conversation("b-1", shop_id="shop-b")
    assert len(_ids(shop["other"], "unassigned")) == 1
    assert _counts(shop["other"])["unassigned"] == 1


def test_each_listed_conversation_carries_its_customers_name_tier_and_tags(shop, floor):
    from kefu.storage.customers import Customer

    listed, _ = views.list_view(shop["agent1"], "unassigned", limit=50, cursor=None)
    first = listed[0]
    Customer("shop-a", Customer.key(first["customer_id"])).update(
        actions=[
            Customer.display_name.set("小明"),
            Customer.tier.set("vip"),
            Customer.tags.set(["老客户"]),
        ]
    )

    again, _ = views.list_view(shop["agent1"], "unassigned", limit=50, cursor=None)

    named = {c["conversation_id"]: c["customer"] for c in again}
    assert named[first["conversation_id"]] == {
        "display_name": "小明",
        "tier": "vip",
        "tags": ["老客户"],
    }
    others = [c for cid, c in named.items() if cid != first["conversation_id"]]
    assert all(c is not None and c["display_name"] is None for c in others), others
