"""Specification: the notifier tells the right people at once — per event type, within the
event's shop only — keeps staff notifications in an idempotent inbox, and forgets sockets that
are gone."""

from __future__ import annotations

import pytest
from kefu.conversations import service
from kefu.ids import now_ms
from kefu.realtime import inbox
from kefu.realtime.notify import notify, plan
from kefu.storage.connections import Connection
from kefu.storage.workbench import QueueItem

from tests.support.factories import customer_says, make_shop, make_staff
from tests.unit.realtime.conftest import connected


def event(type_: str, data: dict, shop_id: str = "shop-a", event_id: str | None = None) -> dict:
    return {
        "event_id": event_id or f"{type_}:{now_ms()}",
        "type": type_,
        "shop_id": shop_id,
        "occurred_at": 1732350000000,
        "data": data,
    }


@pytest.fixture
def shop(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    make_staff("shop-a", "owner", "owner")
    make_staff("shop-a", "lead", "supervisor")
    make_staff("shop-a", "agent1")
    make_staff("shop-a", "agent2")
    return "shop-a"


def test_a_message_in_an_assigned_conversation_goes_to_its_agent_only(shop, sockets):
    received = customer_says(shop, "oOpenId0001", "在吗")
    service.claim(make_staff(shop, "agent1"), received.conversation_id)
    mine, theirs = connected(shop, "staff", "agent1"), connected(shop, "staff", "agent2")
    elsewhere = connected("shop-b", "staff", "agent1")
    outcome = notify(
        event(
            "message.received",
            {"conversation_id": received.conversation_id, "message_id": "m1", "text": "在吗"},
        )
    )
    assert outcome.sockets == 1
    [frame] = sockets.frames(mine)
    assert frame["type"] == "message.received"
    assert frame["data"]["assignee"] == "agent1" and frame["event_id"].startswith("message.")
    assert sockets.frames(theirs) == [] and sockets.frames(elsewhere) == []


def test_an_unassigned_message_goes_to_the_queues_online_members(shop, sockets):
    received = customer_says(shop, "oOpenId0001", "在吗")
    queue = plan(
        event(
            "message.received",
            {"conversation_id": received.conversation_id, "message_id": received.message_id},
        )
    )
    assert queue.all_staff  # no queue configuration yet: every agent online in the shop
    conv_queue = queue.data["queue"]
    QueueItem(
        shop,
        QueueItem.key(conv_queue),
        queue_id=conv_queue,
        name="售前",
        members=["agent2"],
        created_at=1,
        updated_at=1,
    ).save()
    member, other = connected(shop, "staff", "agent2"), connected(shop, "staff", "agent1")
    notify(
        event(
            "message.received",
            {"conversation_id": received.conversation_id, "message_id": received.message_id},
        )
    )
    assert len(sockets.frames(member)) == 1 and sockets.frames(other) == []


def test_without_queue_configuration_every_staff_socket_of_the_shop_hears_it(shop, sockets):
    received = customer_says(shop, "oOpenId0001", "在吗")
    a, b = connected(shop, "staff", "agent1"), connected(shop, "staff", "lead", role="supervisor")
    customer = connected(shop, "customer", received.customer_id)
    other_shop = connected("shop-b", "staff", "agent9")
    assert (
        notify(
            event(
                "message.received",
                {"conversation_id": received.conversation_id, "message_id": received.message_id},
            )
        ).sockets
        == 2
    )
    assert len(sockets.frames(a)) == len(sockets.frames(b)) == 1
    assert sockets.frames(customer) == [] and sockets.frames(other_shop) == []


def test_an_assignment_reaches_the_new_and_previous_assignee_and_the_new_ones_inbox(shop, sockets):
    new, previous = connected(shop, "staff", "agent2"), connected(shop, "staff", "agent1")
    data = {
        "conversation_id": "conv_1",
        "assignee": "agent2",
        "previous_assignee": "agent1",
        "by": "lead",
    }
    outcome = notify(event("conversation.assigned", data, event_id="conversation.assigned:c:1"))
    assert len(sockets.frames(new)) == len(sockets.frames(previous)) == 1
    assert len(outcome.inbox_new) == 1
    listed = inbox.list_inbox(shop, "agent2", limit=10, cursor=None)
    assert listed["unread_count"] == 1
    [item] = listed["notifications"]
    assert (item["kind"], item["event_type"], item["read"]) == (
        "assigned",
        "conversation.assigned",
        False,
    )
    assert inbox.list_inbox(shop, "agent1", limit=10, cursor=None)["notifications"] == []


def test_claiming_for_oneself_is_not_an_inbox_notification(shop, sockets):
    p = plan(
        event(
            "conversation.assigned",
            {
                "conversation_id": "c",
                "assignee": "agent1",
                "previous_assignee": None,
                "by": "agent1",
            },
        )
    )
    assert p.inbox == {} and p.staff == set()


def test_a_transfer_notifies_the_new_assignee_with_an_inbox_item(shop, sockets):
    to_agent = plan(
        event(
            "conversation.transferred",
            {
                "conversation_id": "c",
                "from_agent": "agent1",
                "to_agent": "agent2",
                "to_queue": None,
                "note": "VIP",
                "by": "agent1",
            },
        )
    )
    assert to_agent.staff == {"agent2"} and to_agent.inbox == {"agent2": "transferred"}
    to_queue = plan(
        event(
            "conversation.transferred",
            {
                "conversation_id": "c",
                "from_agent": "agent1",
                "to_agent": None,
                "to_queue": "after_sales",
                "by": "lead",
            },
        )
    )
    assert to_queue.staff == {"agent1"} and to_queue.inbox == {}


def test_a_reply_goes_to_the_customers_in_app_sockets_without_the_channel_address(shop, sockets):
    phone, tablet = connected(shop, "customer", "cus_1"), connected(shop, "customer", "cus_1")
    agent = connected(shop, "staff", "agent1")
    notify(
        event(
            "reply.created",
            {
                "conversation_id": "c",
                "message_id": "m",
                "customer_id": "cus_1",
                "reply_to": "app_user:u-1",
                "content": {"text": "您好"},
                "sender": {"type": "agent", "id": "agent1"},
            },
        )
    )
    for conn in (phone, tablet):
        [frame] = sockets.frames(conn)
        assert frame["type"] == "reply.created" and "reply_to" not in frame["data"]
        assert frame["data"]["content"] == {"text": "您好"}
    assert sockets.frames(agent) == []


def test_a_reply_frame_names_the_agent_by_display_name_never_by_username(shop, sockets):
    from kefu.storage.shops import StaffMember

    member = StaffMember.get(shop, StaffMember.key("agent1"))
    member.update(actions=[StaffMember.display_name.set("小王")])
    phone = connected(shop, "customer", "cus_1")
    for sender in ({"type": "agent", "id": "agent1"}, {"type": "agent", "id": "agent2"}):
        notify(
            event(
                "reply.created",
                {
                    "conversation_id": "c",
                    "message_id": "m1",
                    "customer_id": "cus_1",
                    "sender": sender,
                },
            )
        )
    bot = {"type": "bot", "id": None}
    notify(
        event(
            "reply.created",
            {"conversation_id": "c", "message_id": "m2", "customer_id": "cus_1", "sender": bot},
        )
    )
    frames = sockets.frames(phone)
    assert [f["data"]["sender"] for f in frames] == [
        {"type": "agent", "name": "小王"},
        {"type": "agent", "name": None},  # no display name set: still not the username
        {"type": "bot"},
    ]
    assert "agent1" not in str(frames) and "agent2" not in str(frames)


def test_delivery_status_goes_to_the_conversations_agent(shop, sockets):
    received = customer_says(shop, "oOpenId0001", "在吗")
    service.claim(make_staff(shop, "agent1"), received.conversation_id)
    agent, customer = connected(shop, "staff", "agent1"), connected(shop, "customer", "cus_1")
    for kind in ("message.delivered", "message.undeliverable"):
        notify(
            event(
                kind,
                {
                    "conversation_id": received.conversation_id,
                    "message_id": "m",
                    "channel": "wechat_miniprogram",
                    "reason": "48h",
                },
            )
        )
    assert [f["type"] for f in sockets.frames(agent)] == [
        "message.delivered",
        "message.undeliverable",
    ]
    assert sockets.frames(customer) == []


def test_tickets_reach_assignee_watchers_and_on_breach_supervisors(shop, sockets):
    updated = plan(
        event(
            "ticket.updated",
            {
                "ticket_id": "t1",
                "assignee": "agent1",
                "previous_assignee": "agent1",
                "watchers": ["agent2"],
                "by": "agent2",
            },
        )
    )
    assert updated.staff == {"agent1"} and updated.inbox == {}
    reassigned = plan(
        event(
            "ticket.updated",
            {
                "ticket_id": "t1",
                "assignee": "agent2",
                "changes": {"assignee": {"before": "agent1", "after": "agent2"}},
                "watchers": [],
                "by": "lead",
            },
        )
    )
    assert reassigned.staff == {"agent2"} and reassigned.inbox == {"agent2": "ticket_assigned"}
    created = plan(event("ticket.created", {"ticket_id": "t1", "assignee": "agent1", "by": "lead"}))
    assert created.staff == {"agent1"} and created.inbox == {"agent1": "ticket_assigned"}
    unassigned = plan(
        event("ticket.created", {"ticket_id": "t2", "assignee": None, "by": "agent1"})
    )
    assert unassigned.staff == {"owner", "lead"} and unassigned.inbox == {}
    breached = plan(
        event(
            "ticket.sla_breached",
            {
                "ticket_id": "t1",
                "ticket": {"ticket_id": "t1", "assignee": "agent1", "watchers": ["agent2"]},
            },
        )
    )
    assert breached.staff == {"agent1", "agent2", "owner", "lead"}
    assert (
        set(breached.inbox.values()) == {"sla_breached"} and set(breached.inbox) == breached.staff
    )


def test_mentions_reach_the_mentioned_staff_and_their_inbox(shop, sockets):
    p = plan(
        event(
            "staff.mentioned",
            {"conversation_id": "c", "mentioned": ["agent2", "lead"], "by": "agent1"},
        )
    )
    assert p.staff == {"agent2", "lead"} and p.inbox == {"agent2": "mentioned", "lead": "mentioned"}


def test_inbox_items_are_written_once_per_event_and_announced_with_a_stable_id(
    shop, sockets, kefu_env
):
    data = {"conversation_id": "conv_1", "assignee": "agent2", "by": "lead"}
    first = notify(event("conversation.assigned", data, event_id="conversation.assigned:conv_1:1"))
    again = notify(event("conversation.assigned", data, event_id="conversation.assigned:conv_1:1"))
    assert len(first.inbox_new) == 1 and again.inbox_new == []
    assert len(inbox.list_inbox(shop, "agent2", limit=10, cursor=None)["notifications"]) == 1
    announced = kefu_env.events("staff.notified")
    assert len(announced) == 2 and len({e["event_id"] for e in announced}) == 1
    assert announced[0]["data"]["username"] == "agent2"
    assert announced[0]["data"]["notification_id"] == first.inbox_new[0]


def test_a_gone_socket_is_forgotten_and_the_others_still_get_the_frame(shop, sockets):
    gone, alive = connected(shop, "staff", "agent1"), connected(shop, "staff", "agent1")
    sockets.gone.add(gone)
    outcome = notify(event("staff.mentioned", {"mentioned": ["agent1"], "by": "lead"}))
    assert outcome.sockets == 1 and len(sockets.frames(alive)) == 1
    with pytest.raises(Connection.DoesNotExist):
        Connection.get(gone)
    Connection.get(alive)


def test_marking_read_by_id_and_all(shop, sockets):
    for n in range(3):
        notify(
            event(
                "staff.mentioned",
                {"mentioned": ["agent1"], "by": "lead"},
                event_id=f"staff.mentioned:{n}",
            )
            | {"occurred_at": 1732350000000 + n}
        )
    listed = inbox.list_inbox(shop, "agent1", limit=2, cursor=None)
    assert listed["unread_count"] == 3 and len(listed["notifications"]) == 2
    newest = listed["notifications"][0]
    assert newest["at"] == 1732350000002  # newest first
    rest = inbox.list_inbox(shop, "agent1", limit=2, cursor=listed["next_cursor"])
    assert len(rest["notifications"]) == 1
    marked = inbox.mark_read(shop, "agent1", ids=[newest["id"], newest["id"]])
    assert (marked["marked"], marked["unread_count"]) == (1, 2)
    assert inbox.mark_read(shop, "agent1", ids=[newest["id"]])["marked"] == 0  # idempotent
    assert (
        inbox.list_inbox(shop, "agent1", limit=5, cursor=None, unread_only=True)["unread_count"]
        == 2
    )
    assert inbox.mark_read(shop, "agent1", all_=True)["unread_count"] == 0
    after = inbox.list_inbox(shop, "agent1", limit=5, cursor=None)
    assert all(n["read"] for n in after["notifications"])
    assert (
        inbox.list_inbox(shop, "agent1", limit=5, cursor=None, unread_only=True)["notifications"]
        == []
    )


def test_a_cursor_into_another_inbox_is_refused(shop, sockets):
    from kefu.errors import BadRequest

    for n in range(2):
        notify(event("staff.mentioned", {"mentioned": ["agent2"]}, event_id=f"m:{n}"))
    cursor = inbox.list_inbox(shop, "agent2", limit=1, cursor=None)["next_cursor"]
    with pytest.raises(BadRequest):
        inbox.list_inbox(shop, "agent1", limit=1, cursor=cursor)
