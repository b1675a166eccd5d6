"""Specification: a routed conversation goes to an online agent with room in its queue, by the
queue's strategy, the returning customer to their last agent; when nobody has room it waits
(higher priority first, then longest waiting) and is assigned the moment a slot frees — by one
`agent.slot_freed` event, no sweep. No agent is ever over capacity, no conversation has two
agents, and every agent's `active` equals their open assigned conversations."""

import contextlib
import random
import threading

import pytest
from kefu.assignment import agents
from kefu.assignment.transfer import TransferRequest, transfer
from kefu.conversations import service
from kefu.conversations.service import AssignRequest
from kefu.errors import Conflict, Forbidden
from kefu.routing import admin, router
from kefu.routing.rules import RoutingRule, RoutingRulesPut, RuleConditions
from kefu.storage.conversations import OPEN_STATUSES, Conversation
from kefu.storage.customers import Customer
from kefu.storage.workbench import AgentState

from tests.support.factories import customer_says, make_shop, make_staff
from tests.support.routing import (
    agent,
    conv,
    new_conversation,
    online,
    opened_event,
    queue,
    slot_freed,
)

SHOP = "shop-a"
T0 = 1_700_000_000_000


@pytest.fixture
def sup(kefu_env):
    make_shop(SHOP)
    return make_staff(SHOP, "sup", "supervisor")


def _rules(sup, *rules):
    admin.put_rules(sup, RoutingRulesPut(rules=list(rules)))


def _open_assigned(shop_id, username):
    return [
        c
        for c in Conversation.by_assignee.query(f"{shop_id}#{username}")
        if c.status in OPEN_STATUSES
    ]


# --- routing to a queue, then to an agent ------------------------------------------------------


def test_a_new_conversation_is_routed_by_rule_and_assigned_to_an_online_member(kefu_env, sup):
    online(SHOP, "wang")
    online(SHOP, "li")
    queue(sup, "logistics", ["li"])
    _rules(
        sup,
        RoutingRule(
            rule_id="ship",
            queue="logistics",
            priority=4,
            conditions=RuleConditions(keywords=["快递"]),
        ),
    )
    cid = new_conversation(SHOP, "o1", "我的快递到哪了")
    c = conv(SHOP, cid)
    assert (c.status, c.queue, c.assignee, c.priority, c.routed_by_rule) == (
        "assigned",
        "logistics",
        "li",
        4,
        "ship",
    )
    assert c.wait_queue is None
    assert agent(SHOP, "li").active == 1
    routed = kefu_env.events("conversation.routed")
    assert routed[-1]["data"] == {
        "conversation_id": cid,
        "queue": "logistics",
        "priority": 4,
        "rule_id": "ship",
        "assignee": "li",
    }
    assert kefu_env.events("conversation.assigned")[-1]["data"]["assignee"] == "li"


def test_without_a_matching_rule_the_default_queue_takes_any_online_agent(kefu_env, sup):
    online(SHOP, "wang")
    cid = new_conversation(SHOP, "o1", "你好")
    assert (conv(SHOP, cid).queue, conv(SHOP, cid).assignee) == ("default", "wang")


def test_offline_and_away_agents_and_non_members_get_nothing(kefu_env, sup):
    online(SHOP, "wang")
    away = online(SHOP, "li")
    agents.set_my_status(away, agents.StatusChange(status="away"))
    queue(sup, "vip", ["li"])
    _rules(
        sup, RoutingRule(rule_id="vip", queue="vip", conditions=RuleConditions(keywords=["会员"]))
    )
    cid = new_conversation(SHOP, "o1", "会员问题")
    c = conv(SHOP, cid)
    assert (c.status, c.assignee, c.queue) == ("queued", None, "vip")
    assert c.wait_queue == f"{SHOP}#vip"


def test_least_loaded_picks_the_lowest_share_of_capacity(kefu_env, sup):
    online(SHOP, "a", capacity=4)
    online(SHOP, "b", capacity=1)
    got = [conv(SHOP, new_conversation(SHOP, f"o{i}")).assignee for i in range(5)]
    # a, b tie at 0 (a by name); then b (0/1) < a (1/4); then only a has room.
    assert sorted(got) == ["a", "a", "a", "a", "b"]
    assert (agent(SHOP, "a").active, agent(SHOP, "b").active) == (4, 1)


def test_least_loaded_breaks_ties_by_the_longest_since_the_last_assignment(kefu_env, sup):
    online(SHOP, "a", capacity=2)
    online(SHOP, "b", capacity=2)
    first = conv(SHOP, new_conversation(SHOP, "o1")).assignee
    second = conv(SHOP, new_conversation(SHOP, "o2")).assignee
    assert {first, second} == {"a", "b"}


def test_round_robin_rotates_through_the_members_whatever_their_load(kefu_env, sup):
    online(SHOP, "a", capacity=5)
    online(SHOP, "b", capacity=5)
    online(SHOP, "c", capacity=5)
    queue(sup, "rr", ["a", "b", "c"], strategy="round_robin")
    _rules(sup, RoutingRule(rule_id="all", queue="rr"))
    got = [conv(SHOP, new_conversation(SHOP, f"o{i}")).assignee for i in range(6)]
    assert got[:3] == sorted(got[:3]) and set(got[:3]) == {"a", "b", "c"}
    assert got[3:] == got[:3]


def test_a_returning_customer_goes_back_to_their_last_agent_when_they_have_room(kefu_env, sup):
    a = online(SHOP, "a", capacity=3)
    online(SHOP, "b", capacity=3)
    cid = new_conversation(SHOP, "o1")
    first = conv(SHOP, cid).assignee
    served_by = a if first == "a" else make_staff(SHOP, "b", "agent")
    service.resolve(served_by, cid)
    Conversation(SHOP, cid).update(
        actions=[Conversation.status.set("closed"), Conversation.shop_status.set(f"{SHOP}#closed")]
    )
    Customer(SHOP, Customer.key(conv(SHOP, cid).customer_id)).update(
        actions=[Customer.open_conversation_id.remove()]
    )
    # Load the other agent less, so least_loaded alone would pick them.
    new_conversation(SHOP, "o2")
    again = new_conversation(SHOP, "o1", "又来了")
    assert conv(SHOP, again).assignee == first


def test_the_last_agent_is_skipped_when_offline_or_full(kefu_env, sup):
    a = online(SHOP, "a", capacity=1)
    online(SHOP, "b", capacity=3)
    cid = new_conversation(SHOP, "o-a")
    assert conv(SHOP, cid).assignee in ("a", "b")
    Customer(SHOP, Customer.key(conv(SHOP, cid).customer_id)).update(
        actions=[Customer.last_agent.set("a")]
    )
    agents.set_my_status(a, agents.StatusChange(status="offline"))
    Conversation(SHOP, cid).update(
        actions=[Conversation.status.set("closed"), Conversation.shop_status.set(f"{SHOP}#closed")]
    )
    Customer(SHOP, Customer.key(conv(SHOP, cid).customer_id)).update(
        actions=[Customer.open_conversation_id.remove()]
    )
    assert conv(SHOP, new_conversation(SHOP, "o-a", "again")).assignee == "b"


# --- waiting, and the event-driven drain --------------------------------------------------------


def test_when_nobody_has_room_conversations_wait_by_priority_then_longest_waiting(kefu_env, sup):
    busy = online(SHOP, "a", capacity=1)
    queue(sup, "vip", ["a"])
    _rules(
        sup,
        RoutingRule(
            rule_id="vip", queue="vip", priority=7, conditions=RuleConditions(keywords=["会员"])
        ),
    )
    taken = new_conversation(SHOP, "o0", "先来的", at=T0)
    assert conv(SHOP, taken).assignee == "a"
    old = new_conversation(SHOP, "o1", "普通问题", at=T0 + 1000)
    young = new_conversation(SHOP, "o2", "普通问题2", at=T0 + 2000)
    urgent = new_conversation(SHOP, "o3", "会员问题", at=T0 + 3000)
    ranks = [c.conversation_id for c in Conversation.waiting.query(f"{SHOP}#default")]
    assert ranks == [old, young]
    assert [c.conversation_id for c in Conversation.waiting.query(f"{SHOP}#vip")] == [urgent]
    # a frees a slot: the drain takes the urgent one first, then the oldest.
    service.resolve(busy, taken)
    assert slot_freed(SHOP, "a")["assigned"] == [urgent]
    service.resolve(busy, urgent)
    assert slot_freed(SHOP, "a")["assigned"] == [old]
    assert conv(SHOP, old).wait_queue is None
    assert [c.conversation_id for c in Conversation.waiting.query(f"{SHOP}#default")] == [young]


def test_resolving_frees_the_slot_and_announces_it_so_one_event_assigns_the_next(kefu_env, sup):
    a = online(SHOP, "a", capacity=1)
    first = new_conversation(SHOP, "o1")
    waiting = new_conversation(SHOP, "o2")
    assert conv(SHOP, waiting).status == "queued"
    service.resolve(a, first)
    assert agent(SHOP, "a").active == 0
    freed = kefu_env.events("agent.slot_freed")
    assert freed[-1]["data"] == {"username": "a", "reason": "resolved"}
    router.handle(freed[-1])  # exactly what the routing function receives
    assert (conv(SHOP, waiting).assignee, agent(SHOP, "a").active) == ("a", 1)


def test_coming_online_or_gaining_capacity_drains_the_waiting_line(kefu_env, sup):
    cids = [new_conversation(SHOP, f"o{i}", at=T0 + i) for i in range(3)]
    assert all(conv(SHOP, c).status == "queued" for c in cids)
    online(SHOP, "a", capacity=2)
    router.handle(kefu_env.events("agent.slot_freed")[-1])
    assert [conv(SHOP, c).assignee for c in cids] == ["a", "a", None]
    agents.update_agent(sup, "a", agents.AgentChange(capacity=3))
    event = kefu_env.events("agent.slot_freed")[-1]
    assert event["data"]["reason"] == "capacity"
    router.handle(event)
    assert conv(SHOP, cids[2]).assignee == "a"


def test_a_repeated_slot_freed_event_assigns_nothing_twice(kefu_env, sup):
    a = online(SHOP, "a", capacity=1)
    first = new_conversation(SHOP, "o1")
    second = new_conversation(SHOP, "o2")
    service.resolve(a, first)
    assert slot_freed(SHOP, "a")["assigned"] == [second]
    assert slot_freed(SHOP, "a")["assigned"] == []
    assert agent(SHOP, "a").active == 1


def test_a_repeated_opened_event_changes_nothing(kefu_env, sup):
    online(SHOP, "a", capacity=2)
    cid = new_conversation(SHOP, "o1")
    router.handle(opened_event(SHOP, cid))
    assert agent(SHOP, "a").active == 1


# --- claims, assignments, resolves keep the load right -----------------------------------------


def test_claiming_counts_against_capacity(kefu_env, sup):
    a = make_staff(SHOP, "a", "agent")
    agents.set_my_status(a, agents.StatusChange(status="away", capacity=1))
    c1 = customer_says(SHOP, "o1", "hi").conversation_id
    c2 = customer_says(SHOP, "o2", "hi").conversation_id
    service.claim(a, c1)  # away agents may still claim
    with pytest.raises(Conflict) as exc:
        service.claim(a, c2)
    assert exc.value.code == "at_capacity"
    assert agent(SHOP, "a").active == 1


def test_a_supervisor_may_force_an_agent_above_capacity(kefu_env, sup):
    online(SHOP, "a", capacity=1)
    c1 = new_conversation(SHOP, "o1")
    c2 = customer_says(SHOP, "o2", "hi").conversation_id
    with pytest.raises(Conflict):
        service.assign(sup, c2, AssignRequest(assignee="a"))
    service.assign(sup, c2, AssignRequest(assignee="a", force=True))
    assert agent(SHOP, "a").active == 2
    assert conv(SHOP, c1).assignee == conv(SHOP, c2).assignee == "a"


def test_reassigning_moves_the_load_and_frees_the_previous_agents_slot(kefu_env, sup):
    online(SHOP, "a", capacity=2)
    online(SHOP, "b", capacity=2)
    cid = new_conversation(SHOP, "o1")
    first = conv(SHOP, cid).assignee
    other = "b" if first == "a" else "a"
    service.assign(sup, cid, AssignRequest(assignee=other))
    assert (agent(SHOP, first).active, agent(SHOP, other).active) == (0, 1)
    assert kefu_env.events("agent.slot_freed")[-1]["data"]["username"] == first


def test_resolve_remembers_the_agent_for_the_customers_next_visit(kefu_env, sup):
    a = online(SHOP, "a")
    cid = new_conversation(SHOP, "o1")
    service.resolve(a, cid)
    assert Customer.get(SHOP, Customer.key(conv(SHOP, cid).customer_id)).last_agent == "a"


def test_a_reopened_conversation_returns_to_its_agent_counted_in_their_load(kefu_env, sup):
    a = online(SHOP, "a", capacity=2)
    cid = new_conversation(SHOP, "o1")
    service.resolve(a, cid)
    assert agent(SHOP, "a").active == 0
    back = customer_says(SHOP, "o1", "还有个问题")
    assert back.reopened and conv(SHOP, cid).assignee == "a"
    assert agent(SHOP, "a").active == 1


# --- transfers -----------------------------------------------------------------------------------


def test_transfer_to_a_queue_reassigns_there_but_not_to_the_agent_who_let_go(kefu_env, sup):
    a = online(SHOP, "a", capacity=2)
    online(SHOP, "b", capacity=2)
    queue(sup, "after-sales", ["a", "b"])
    _rules(
        sup,
        RoutingRule(
            rule_id="x", queue="after-sales", conditions=RuleConditions(keywords=["不会匹配"])
        ),
    )
    cid = new_conversation(SHOP, "o1")
    holder = conv(SHOP, cid).assignee
    actor = a if holder == "a" else make_staff(SHOP, "b", "agent")
    result = transfer(actor, cid, TransferRequest(to_queue="after-sales", note="要退货"))
    assert (result["status"], result["queue"], result["transfer_note"]) == (
        "queued",
        "after-sales",
        "要退货",
    )
    assert agent(SHOP, holder).active == 0
    event = kefu_env.events("conversation.transferred")[-1]
    assert event["data"]["from_agent"] == holder and event["data"]["to_queue"] == "after-sales"
    router.handle(event)
    other = "b" if holder == "a" else "a"
    assert conv(SHOP, cid).assignee == other
    assert agent(SHOP, other).active == 1


def test_transfer_to_an_agent_needs_them_online_with_room_unless_a_supervisor_forces(kefu_env, sup):
    a = online(SHOP, "a", capacity=2)
    b = online(SHOP, "b", capacity=1)
    queue(sup, "qa", ["a"])
    queue(sup, "qb", ["b"])
    _rules(
        sup,
        RoutingRule(rule_id="a", queue="qa", conditions=RuleConditions(keywords=["A"])),
        RoutingRule(rule_id="b", queue="qb", conditions=RuleConditions(keywords=["B"])),
    )
    mine = new_conversation(SHOP, "o1", "A")
    new_conversation(SHOP, "o2", "B")  # b is now full
    with pytest.raises(Conflict) as exc:
        transfer(a, mine, TransferRequest(to_agent="b", note="你来"))
    assert exc.value.code == "agent_unavailable"
    with pytest.raises(Forbidden):
        transfer(a, mine, TransferRequest(to_agent="b", note="你来", force=True))
    transfer(sup, mine, TransferRequest(to_agent="b", note="你来", force=True))
    assert (agent(SHOP, "a").active, agent(SHOP, "b").active) == (0, 2)
    with pytest.raises(Forbidden):
        transfer(a, mine, TransferRequest(to_agent="a", note="还我"))
    assert b.username == conv(SHOP, mine).assignee


# --- the invariants under concurrency ------------------------------------------------------------


def test_hammering_assignment_never_overfills_never_double_assigns_and_counts_exactly(
    kefu_env, sup
):
    capacities = {"a1": 1, "a2": 2, "a3": 3, "a4": 4, "a5": 2}
    actors = {u: online(SHOP, u, capacity=c) for u, c in capacities.items()}
    cids = [customer_says(SHOP, f"o{i}", f"问题{i}", at=T0 + i).conversation_id for i in range(60)]
    events = [opened_event(SHOP, c) for c in cids]
    rng = random.Random(3)
    errors = []

    def worker(k):
        try:
            for i, event in enumerate(events):
                if i % 8 != k:
                    continue
                router.handle(event)
                if rng.random() < 0.5:  # agents resolve, come and go meanwhile
                    u = rng.choice(list(capacities))
                    mine = _open_assigned(SHOP, u)
                    if mine:
                        with contextlib.suppress(Conflict):
                            service.resolve(actors[u], mine[0].conversation_id)
                    slot_freed(SHOP, u)
                if rng.random() < 0.2:
                    u = rng.choice(list(capacities))
                    status = rng.choice(["online", "offline", "away", "online"])
                    with contextlib.suppress(Conflict):
                        agents.set_my_status(actors[u], agents.StatusChange(status=status))
                    slot_freed(SHOP, u)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for u, capacity in capacities.items():
        state = agent(SHOP, u)
        assert state.active <= capacity, f"{u} over capacity"
        assert state.active == len(_open_assigned(SHOP, u)), f"{u}: active drifted"
    for c in cids:
        item = conv(SHOP, c)
        if item.status == "assigned":
            assert item.assignee and item.wait_queue is None
        if item.status == "queued":
            assert item.assignee is None


def test_agents_see_their_own_status_and_supervisors_see_everyones_load(kefu_env, sup):
    a = online(SHOP, "a", capacity=2)
    new_conversation(SHOP, "o1")
    listed = {x["username"]: x for x in agents.list_agents(sup)}
    assert listed["a"]["active"] == 1 and listed["a"]["load"] == 0.5
    assert agents.list_agents(sup, status="offline") == []
    with pytest.raises(Forbidden):
        agents.list_agents(a)
    assert kefu_env.events("agent.status_changed")[-1]["data"]["status"] == "online"


def test_agent_state_items_live_in_the_shops_partition(kefu_env, sup):
    online(SHOP, "a")
    assert AgentState.get(SHOP, "AGENT#a").status == "online"


def test_a_closed_default_queue_is_not_drained_by_agents_who_are_not_its_members(kefu_env, sup):
    waiting = new_conversation(SHOP, "o1")
    admin.update_queue(sup, "default", admin.QueueChange(open_to_all=False))
    online(SHOP, "a")
    assert slot_freed(SHOP, "a")["assigned"] == []
    assert conv(SHOP, waiting).status == "queued"
    admin.update_queue(sup, "default", admin.QueueChange(members=["a"]))
    assert kefu_env.events("agent.slot_freed")[-1]["data"]["reason"] == "queue_joined"
    assert slot_freed(SHOP, "a")["assigned"] == [waiting]


# --- capacity is the supervisor's setting ------------------------------------------------------


def test_an_agent_may_lower_their_capacity_but_not_raise_it_above_the_supervisors(kefu_env, sup):
    wang = make_staff(SHOP, "wang")
    with pytest.raises(Forbidden) as err:
        agents.set_my_status(wang, agents.StatusChange(status="online", capacity=50))
    assert (err.value.code, err.value.details) == ("capacity_above_limit", {"max_capacity": 5})
    assert (
        agents.set_my_status(wang, agents.StatusChange(status="online", capacity=2))["capacity"]
        == 2
    )

    agents.update_agent(sup, "wang", agents.AgentChange(capacity=8))
    assert agent(SHOP, "wang").max_capacity == 8
    lowered = agents.set_my_status(wang, agents.StatusChange(status="online", capacity=6))
    assert lowered["capacity"] == 6
    with pytest.raises(Forbidden):
        agents.set_my_status(wang, agents.StatusChange(status="online", capacity=9))
    agents.update_agent(sup, "wang", agents.AgentChange(capacity=3))
    with pytest.raises(Forbidden):
        agents.set_my_status(wang, agents.StatusChange(status="online", capacity=6))
    assert agent(SHOP, "wang").capacity == 3
