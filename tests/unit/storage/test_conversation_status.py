"""kefu.storage.conversations: a status change keeps every index copy in step (shop_status,
shop_assignee, and the sparse waiting keys that exist only while queued without an agent)."""

import pytest
from kefu.storage.conversations import KEEP, Conversation, Wait


def _new(shop: str = "s1", conversation_id: str = "cv1") -> Conversation:
    conv = Conversation(
        shop,
        conversation_id,
        customer_id="cu1",
        shop_customer=f"{shop}#cu1",
        channel="app",
        reply_to="app:cu1",
        queue="general",
        shop_queue=f"{shop}#general",
        opened_at=1,
        last_activity_at=1,
    )
    conv.set_status("queued")
    return conv


def _apply(conv: Conversation, actions: list) -> Conversation:
    conv.update(actions=actions)
    return Conversation.get(conv.shop_id, conv.conversation_id, consistent_read=True)


def test_set_status_writes_the_index_copy_in_memory():
    conv = _new()
    assert (conv.status, conv.shop_status) == ("queued", "s1#queued")
    conv.set_status("assigned", assignee="ann")
    assert (conv.status, conv.shop_status) == ("assigned", "s1#assigned")
    assert (conv.assignee, conv.shop_assignee) == ("ann", "s1#ann")
    assert conv.wait_queue is None and conv.wait_rank is None


def test_set_status_with_a_wait_places_it_in_the_waiting_line():
    conv = _new()
    conv.set_status("queued", assignee=None, wait=Wait("vip", 2, 1_000))
    assert (conv.queued_at, conv.wait_queue, conv.wait_rank) == (1_000, "s1#vip", "7#0000000001000")
    assert conv.assignee is None and conv.shop_assignee is None


def test_an_unknown_status_or_a_waiting_agent_is_refused():
    conv = _new()
    with pytest.raises(ValueError):
        conv.set_status("archived")
    with pytest.raises(ValueError):
        Conversation.status_actions("s1", "assigned", wait=Wait("q", 0, 1))
    with pytest.raises(ValueError):
        Conversation.status_actions("s1", "queued", assignee="ann", wait=Wait("q", 0, 1))


def test_status_actions_move_a_conversation_through_its_life(kefu_env):
    conv = _new()
    conv.save()
    waiting = _apply(conv, Conversation.status_actions("s1", "queued", wait=Wait("general", 0, 5)))
    assert (waiting.shop_status, waiting.wait_queue, waiting.queued_at) == (
        "s1#queued",
        "s1#general",
        5,
    )

    assigned = _apply(conv, Conversation.status_actions("s1", "assigned", assignee="ann"))
    assert (assigned.status, assigned.shop_status) == ("assigned", "s1#assigned")
    assert (assigned.assignee, assigned.shop_assignee) == ("ann", "s1#ann")
    assert assigned.wait_queue is None and assigned.wait_rank is None

    resolved = _apply(conv, Conversation.status_actions("s1", "resolved"))
    # The assignee is kept (KEEP is the default): a reopened conversation returns to its agent.
    assert (resolved.shop_status, resolved.shop_assignee) == ("s1#resolved", "s1#ann")

    back = _apply(
        conv, Conversation.status_actions("s1", "queued", assignee=None, wait=Wait("vip", 9, 7))
    )
    assert (back.assignee, back.shop_assignee) == (None, None)
    assert (back.shop_status, back.wait_queue, back.wait_rank) == (
        "s1#queued",
        "s1#vip",
        "0#0000000000007",
    )

    closed = _apply(conv, Conversation.status_actions("s1", "closed"))
    assert (closed.status, closed.shop_status, closed.wait_queue) == ("closed", "s1#closed", None)


def test_the_by_status_index_finds_the_conversation_under_its_new_status(kefu_env):
    conv = _new()
    conv.save()
    conv.update(actions=Conversation.status_actions("s1", "assigned", assignee="ann"))
    assert [c.conversation_id for c in Conversation.by_status.query("s1#assigned")] == ["cv1"]
    assert list(Conversation.by_status.query("s1#queued")) == []
    assert [c.conversation_id for c in Conversation.by_assignee.query("s1#ann")] == ["cv1"]


def test_without_an_assignee_argument_the_assignee_is_kept():
    conv = _new()
    conv.set_status("assigned", assignee="ann")
    conv.set_status("resolved", assignee=KEEP)
    assert (conv.assignee, conv.shop_assignee, conv.shop_status) == ("ann", "s1#ann", "s1#resolved")
