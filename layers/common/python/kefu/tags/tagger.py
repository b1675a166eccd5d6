"""The tagging function's work on one event (functions/tagging; docs/tags.md): which of the
shop's auto-tag rules it satisfies, and the customer tagged accordingly, each rule's tags with
`rule:<rule_id>` as their source.

Requests per event, whatever the number of rules: the rules head's revision (cached for a few
seconds), the rules' Query only after a change; then for an event that matches, the customer
(GetItem) and one transaction per matching rule that adds a tag the customer lacks; an order
event with N-orders-in-M-days rules adds one Query of the customer's recent orders; a cart
change of a shop with cart_abandoned rules writes one watch per delay (kefu.tags.cart). Idempotent:
a tag already there is not written again, so a redelivered event changes nothing.
"""

from __future__ import annotations

from typing import Any, cast

from kefu import events as ev
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.events import Event
from kefu.ids import now_ms
from kefu.storage.orders import Order, customer_key
from kefu.tags import assign, cart
from kefu.tags.rules import CompiledRule, RuleSet
from kefu.tags.rules_admin import rule_set

DAY_MS = 24 * 3600 * 1000
# Orders that count as orders for "N orders in M days" (not a cancelled one).
COUNTED = frozenset({"created", "paid", "shipped", "delivered", "refund_requested", "refunded"})
HANDLED = (
    ev.MESSAGE_RECEIVED,
    ev.BOT_REPLIED,
    ev.HANDOFF_REQUESTED,
    ev.SHOP_ORDER_PAID,
    ev.SHOP_REFUND_REQUESTED,
    ev.SHOP_REFUND_APPROVED,
    ev.SHOP_CART_ITEM_ADDED,
    "campaign.clicked",
    "customer.tier_changed",
    "customer.updated",
)


def _order_count_matches(rules: RuleSet, shop_id: str, customer_id: str) -> list[CompiledRule]:
    counting = rules.kinds("order_count")
    if not counting:
        return []
    now = now_ms()
    longest = max(r.trigger.days for r in counting)
    since = now - longest * DAY_MS
    placed = [
        o.placed_at
        for o in Order.by_placed.query(customer_key(shop_id, customer_id), Order.placed_at >= since)
        if o.status in COUNTED
    ]
    return [
        r
        for r in counting
        if sum(1 for at in placed if at >= now - r.trigger.days * DAY_MS) >= r.trigger.orders
    ]


def matches(event: Event, rules: RuleSet) -> list[CompiledRule]:
    """The rules this event satisfies (without reading anything, except the orders query of an
    order event when the shop has N-orders-in-M-days rules)."""
    data = event.data
    kind = event.type
    if kind == ev.MESSAGE_RECEIVED:
        content = data.content or {}
        text = content.get("text") if data.type == "text" else None
        return rules.keyword_matches(text) if isinstance(text, str) and rules.automaton else []
    if kind == ev.BOT_REPLIED:
        return rules.intent_matches(data.entry_id) if data.entry_id else []
    if kind == ev.HANDOFF_REQUESTED:
        return rules.intent_matches(data.intent) if data.intent else []
    if kind == ev.SHOP_ORDER_PAID:
        found = rules.order_matches(data.order or {})
        return found + _order_count_matches(rules, event.shop_id, data.customer_id)
    if kind == ev.SHOP_REFUND_REQUESTED:
        return rules.refund_matches("requested")
    if kind == ev.SHOP_REFUND_APPROVED:
        return rules.refund_matches("approved")
    if kind == "campaign.clicked":
        return rules.campaign_matches(data.campaign_id)
    if kind == "customer.tier_changed":
        return rules.tier_matches(data.new_tier)
    if kind == "customer.updated":
        out: list[CompiledRule] = []
        for attribute_id, value in (data.attributes or {}).items():
            out += rules.attribute_matches(attribute_id, value)
        return out
    return []


def _customer_of(event: Event) -> str | None:
    customer_id = getattr(event.data, "customer_id", None)
    return customer_id if isinstance(customer_id, str) and customer_id else None


def handle(event: Event) -> dict[str, Any]:
    """Apply the shop's auto-tag rules to one event; returns what to log."""
    if event.type not in HANDLED:
        return {"outcome": "not_for_tagging"}
    customer_id = _customer_of(event)
    if customer_id is None:
        return {"outcome": "no_customer"}
    rules = rule_set(event.shop_id)
    if not len(rules):
        return {"outcome": "no_rules"}
    if event.type == ev.SHOP_CART_ITEM_ADDED:
        if not rules.cart_hours():
            return {"outcome": "no_cart_rules"}
        at = event.occurred_at or now_ms()
        watches = cart.watch(event.shop_id, customer_id, event.data.product_id, at, rules)
        return {"outcome": "cart_watched", "watches": watches}
    matched = matches(event, rules)
    if not matched:
        return {"outcome": "no_match", "rules": len(rules)}
    try:
        customer = assign.load_customer(event.shop_id, customer_id)
    except NotFound:
        return {"outcome": "no_such_customer"}
    added: list[str] = []
    skipped: list[str] = []
    for rule in matched:
        try:
            change = assign.apply(customer, add=rule.tag_ids, source=f"rule:{rule.rule_id}")
        except (BadRequest, Conflict) as exc:  # at the tag limit: the rule cannot add more
            skipped.append(f"{rule.rule_id}:{exc.code}")
            continue
        customer.tags = cast(Any, change.tags)
        added += change.added
    return {
        "outcome": "tagged" if added else "already_tagged",
        "rules": [r.rule_id for r in matched],
        "added": added,
        "skipped": skipped,
    }
