"""Specification: when a customer's tier moves (`customer.tier_changed`), their conversation that
is still waiting for a person moves to the queue a tier rule now picks, keeping how long it has
waited; an assigned conversation stays with its agent; a rule that is not about the tier, or a
tier no rule names, moves nothing; routing rules may name only the shop's tiers."""

from __future__ import annotations

import pytest
from kefu import events
from kefu.errors import BadRequest
from kefu.routing import admin, router
from kefu.routing.rules import RoutingRule, RoutingRulesPut, RuleConditions
from kefu.storage.customers import Customer

from tests.support.factories import make_shop, make_staff
from tests.support.routing import conv, new_conversation, online, queue

SHOP = "shop-a"


@pytest.fixture
def floor(kefu_env):
    make_shop(SHOP)
    sup = make_staff(SHOP, "sup", "supervisor")
    make_staff(SHOP, "vipagent", "agent")
    queue(sup, "vip", ["vipagent"])
    queue(sup, "refunds", [])
    admin.put_rules(
        sup,
        RoutingRulesPut(
            rules=[
                RoutingRule(
                    rule_id="vip",
                    queue="vip",
                    priority=8,
                    conditions=RuleConditions(tiers=["high_value", "loyal"]),
                ),
            ]
        ),
    )
    return sup


def _tier_changed(customer_id: str, new: str, old: str = "regular") -> dict:
    Customer(SHOP, Customer.key(customer_id)).update(actions=[Customer.tier.set(new)])
    return {
        "event_id": f"{events.CUSTOMER_TIER_CHANGED}:{customer_id}:1",
        "type": events.CUSTOMER_TIER_CHANGED,
        "shop_id": SHOP,
        "occurred_at": 1,
        "data": {"customer_id": customer_id, "old_tier": old, "new_tier": new},
    }


def test_a_waiting_conversation_of_a_new_vip_moves_to_the_vip_queue_and_is_assigned(floor):
    cid = new_conversation(SHOP, "o-1", "在吗")
    waiting = conv(SHOP, cid)
    assert (waiting.queue, waiting.assignee) == ("default", None)
    online(SHOP, "vipagent", capacity=2)

    outcome = router.handle(_tier_changed(waiting.customer_id, "high_value"))

    moved = conv(SHOP, cid)
    assert outcome["from_queue"] == "default"
    assert (moved.queue, moved.assignee, moved.priority) == ("vip", "vipagent", 8)
    assert moved.queued_at == waiting.queued_at


def test_with_nobody_free_it_waits_at_the_head_of_the_vip_line(floor):
    cid = new_conversation(SHOP, "o-1", "在吗")
    customer_id = conv(SHOP, cid).customer_id

    outcome = router.handle(_tier_changed(customer_id, "loyal"))

    moved = conv(SHOP, cid)
    assert outcome["waiting"] is True
    assert (moved.queue, moved.assignee, moved.wait_queue) == ("vip", None, f"{SHOP}#vip")
    assert moved.wait_rank.startswith("1#")  # priority 8 sorts before priority 0


def test_an_assigned_conversation_stays_with_its_agent(floor):
    online(SHOP, "agent1")
    cid = new_conversation(SHOP, "o-1", "在吗")
    assert conv(SHOP, cid).assignee == "agent1"

    outcome = router.handle(_tier_changed(conv(SHOP, cid).customer_id, "high_value"))

    assert outcome == {"skipped": "assigned"}
    assert (conv(SHOP, cid).queue, conv(SHOP, cid).assignee) == ("default", "agent1")


def test_a_tier_no_rule_names_moves_nothing_and_a_repeat_changes_nothing(floor):
    cid = new_conversation(SHOP, "o-1", "在吗")
    customer_id = conv(SHOP, cid).customer_id
    assert router.handle(_tier_changed(customer_id, "new")) == {"skipped": "not a tier rule"}

    event = _tier_changed(customer_id, "high_value")
    router.handle(event)
    assert router.handle(event) == {"skipped": "same queue"}
    assert conv(SHOP, cid).queue == "vip"


def test_a_conversation_a_keyword_rule_placed_is_not_second_guessed(floor):
    rules = [
        RoutingRule(
            rule_id="refunds", queue="refunds", conditions=RuleConditions(keywords=["退款"])
        ),
        RoutingRule(
            rule_id="vip", queue="vip", priority=8, conditions=RuleConditions(tiers=["high_value"])
        ),
    ]
    admin.put_rules(floor, RoutingRulesPut(version=1, rules=rules))
    cid = new_conversation(SHOP, "o-1", "我要退款")
    assert conv(SHOP, cid).queue == "refunds"

    outcome = router.handle(_tier_changed(conv(SHOP, cid).customer_id, "high_value"))

    assert outcome == {"skipped": "same queue"} and conv(SHOP, cid).queue == "refunds"


def test_a_stale_change_is_left_to_the_later_one(floor):
    cid = new_conversation(SHOP, "o-1", "在吗")
    customer_id = conv(SHOP, cid).customer_id
    event = _tier_changed(customer_id, "high_value")
    Customer(SHOP, Customer.key(customer_id)).update(actions=[Customer.tier.set("lost")])
    assert router.handle(event) == {"skipped": "tier moved again"}


def test_routing_rules_may_name_only_the_shops_tiers(floor):
    with pytest.raises(BadRequest) as caught:
        admin.put_rules(
            floor,
            RoutingRulesPut(
                rules=[
                    RoutingRule(rule_id="x", queue="vip", conditions=RuleConditions(tiers=["vip"]))
                ]
            ),
        )
    assert caught.value.code == "unknown_tier"
    assert "high_value" in caught.value.details["known"]
