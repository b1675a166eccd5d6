"""A customer's tier moved (`customer.tier_changed`, kefu.tiers): re-route their waiting
conversation when a tier rule now sends it elsewhere (docs/routing.md, "Tier changes").

Only a conversation still waiting for a person (status `queued`, no agent) moves. One that an
agent has is left with them (taking it away mid-answer would be worse than a VIP waiting for
the agent they have), and one the bot has is left to the bot, whose VIP hand-off reads the tier
at its next turn. The rules are decided again with the new tier (text: the conversation's last
message), and the conversation moves only when the winning rule names the new tier in its
`tiers` condition and picks another queue: a keyword rule's choice is not second-guessed, and a
customer whose tier fell is never moved down. It keeps its `queued_at`, so in the new queue it
waits by priority and then by how long it has already waited. Every write is the router's
conditional one: a repeat, or an agent who took it meanwhile, changes nothing.
"""

from __future__ import annotations

from typing import Any

from kefu import events_catalog as contracts
from kefu.assignment.core import Route, assign_or_wait
from kefu.ids import now_ms
from kefu.routing.rules import CompiledRules, Decision, Facts
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer


def _tier_rule(rules: CompiledRules, decision: Decision, tier: str) -> bool:
    for compiled in rules.rules:
        if compiled.rule.rule_id == decision.rule_id:
            return compiled.tiers is not None and tier in compiled.tiers
    return False


def on_tier_changed(shop_id: str, data: contracts.CustomerTierChanged) -> dict[str, Any]:
    from kefu.routing import router

    customer, version = router.customer_and_ruleset_version(shop_id, data.customer_id)
    if customer is None:
        return {"skipped": "no customer"}
    if customer.tier != data.new_tier:
        return {"skipped": "tier moved again"}  # the later change's event decides
    # The customer's own pointer is the fresher: the event's may name one resolved since.
    conversation_id = customer.open_conversation_id or data.open_conversation_id
    if not conversation_id:
        return {"skipped": "no open conversation"}
    try:
        conv = Conversation.get(shop_id, conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        return {"skipped": "missing"}
    if conv.status != "queued" or conv.assignee:
        return {"skipped": conv.status}
    at = now_ms()
    rules = router.compiled_rules(shop_id, version)
    decision = rules.decide(_facts(shop_id, conv, customer, data.new_tier, at))
    if decision.queue == conv.queue:
        return {"skipped": "same queue"}
    if decision.queue is None or not _tier_rule(rules, decision, data.new_tier):
        return {"skipped": "not a tier rule"}
    route = Route(
        decision.queue,
        decision.priority,
        decision.rule_id,
        queued_at=int(conv.queued_at or conv.opened_at or at),
        routed_at=at,
    )
    outcome = assign_or_wait(shop_id, conversation_id, route, preferred=customer.last_agent)
    if outcome.taken:
        return {"skipped": "taken meanwhile"}
    router.announce_routed(shop_id, conversation_id, decision, route, outcome.assignee)
    return {
        "rerouted": conversation_id,
        "from_queue": conv.queue,
        "queue": decision.queue,
        "assignee": outcome.assignee,
        "waiting": outcome.waiting,
    }


def _facts(shop_id: str, conv: Conversation, customer: Customer, tier: str, at: int) -> Facts:
    from kefu.routing.router import latest_order_facts

    return Facts(
        text=conv.last_message_preview or "",
        channel=conv.channel,
        tier=tier,
        tags=frozenset(map(str, customer.tags or [])),
        at_ms=at,
        latest_order=latest_order_facts(shop_id, customer.customer_id),
    )
