"""Specification: pending and snoozed markers, audited; the customer's next message clears them."""

import pytest
from kefu.audit import list_audit
from kefu.conversations import service
from kefu.errors import BadRequest, Conflict, Forbidden
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation
from kefu.workbench import states
from kefu.workbench.states import SnoozeRequest

from tests.support.factories import customer_says


@pytest.fixture
def mine(shop, conversation):
    conv = conversation("xm").conversation_id
    service.claim(shop["agent1"], conv)
    return conv


def test_pending_snooze_and_unsnooze_are_recorded_and_audited(shop, mine):
    a1 = shop["agent1"]
    assert states.mark_pending(a1, mine)["agent_state"] == "pending"
    until = now_ms() + 3_600_000
    snoozed = states.snooze(a1, mine, SnoozeRequest(until=until))
    assert (snoozed["agent_state"], snoozed["snoozed_until"]) == ("snoozed", until)
    conv = Conversation.get("shop-a", mine)
    assert (conv.agent_state, conv.snoozed_until) == ("snoozed", until)
    cleared = states.unsnooze(a1, mine)
    assert (cleared["agent_state"], cleared["snoozed_until"]) == (None, None)
    records, _ = list_audit("shop-a", target=("conversation", mine))
    assert [r["action"] for r in records][:3] == [
        "conversation.unsnoozed",
        "conversation.snoozed",
        "conversation.pending",
    ]


def test_the_customer_writing_clears_the_marker(shop, mine):
    states.snooze(shop["agent1"], mine, SnoozeRequest(until=now_ms() + 3_600_000))
    customer_says("shop-a", "xm", "还在吗？")
    conv = Conversation.get("shop-a", mine)
    assert (conv.agent_state, conv.snoozed_until) == (None, None)


def test_snooze_needs_a_time_in_the_next_30_days(shop, mine):
    for until in (now_ms() - 1, now_ms() + 31 * 24 * 3600 * 1000):
        with pytest.raises(BadRequest) as err:
            states.snooze(shop["agent1"], mine, SnoozeRequest(until=until))
        assert err.value.code == "invalid_until"


def test_only_the_assigned_agent_or_a_supervisor_marks(shop, mine, conversation):
    with pytest.raises(Forbidden):
        states.mark_pending(shop["agent2"], mine)
    assert states.mark_pending(shop["sup"], mine)["agent_state"] == "pending"
    queued = conversation("other").conversation_id
    with pytest.raises(Forbidden):  # unassigned: not anyone's to mark
        states.mark_pending(shop["agent1"], queued)
    with pytest.raises(Conflict):
        states.mark_pending(shop["sup"], queued)
