"""What the routing function does with each event (all idempotent: a repeat finds the
conversation already assigned or waiting, and the conditional writes change nothing).

conversation.opened       rules pick queue + priority; assign in that queue, else it waits
                          (not while the bot has it: status "bot" waits for handoff.requested)
handoff.requested         the bot hands a conversation to people: routed as conversation.opened
message.received          (reopened, without an agent) assign in its queue, else it waits
conversation.transferred  (to a queue) assign in the new queue, not to the agent who let go
agent.slot_freed          give the agent the next waiting conversations of their queues
customer.tier_changed     a waiting conversation a tier rule now sends elsewhere moves there
                          (kefu.routing.tier_change)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kefu import events
from kefu import events_catalog as contracts
from kefu.assignment.core import Route, assign_or_wait, drain, publish_assigned
from kefu.aws import client
from kefu.ids import now_ms
from kefu.routing.rules import CompiledRules, Decision, Facts, cached, decode_rules
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.storage.workbench import RULESET, RuleSetItem


def _default_queue(shop_id: str, queue: str | None) -> str:
    if queue:
        return queue
    from kefu.shops import get_shop

    return get_shop(shop_id).default_queue


def customer_and_ruleset_version(shop_id: str, customer_id: str) -> tuple[Customer | None, int]:
    """One BatchGetItem across two tables: the customer (tier, tags, last agent) and the rule
    set's version only (the rules themselves are read when this instance lacks that version)."""
    resp = client("dynamodb").batch_get_item(
        RequestItems={
            Customer.Meta.table_name: {
                "Keys": [{"pk": {"S": shop_id}, "sk": {"S": Customer.key(customer_id)}}],
                "ConsistentRead": True,
            },
            RuleSetItem.Meta.table_name: {
                "Keys": [{"pk": {"S": shop_id}, "sk": {"S": RULESET}}],
                "ProjectionExpression": "version",
            },
        }
    )
    found = resp.get("Responses", {})
    raw_customer = found.get(Customer.Meta.table_name) or []
    raw_rules = found.get(RuleSetItem.Meta.table_name) or []
    customer = Customer.from_raw_data(raw_customer[0]) if raw_customer else None
    version = int(raw_rules[0]["version"]["N"]) if raw_rules else 0
    # Unprocessed keys (throttling) are rare on two small items: read them one by one.
    unprocessed = resp.get("UnprocessedKeys") or {}
    if Customer.Meta.table_name in unprocessed:
        try:
            customer = Customer.get(shop_id, Customer.key(customer_id), consistent_read=True)
        except Customer.DoesNotExist:
            customer = None
    if RuleSetItem.Meta.table_name in unprocessed:
        item = _full_ruleset(shop_id)
        version = item.version if item else 0
    return customer, version


def _full_ruleset(shop_id: str) -> RuleSetItem | None:
    try:
        return RuleSetItem.get(shop_id, RULESET, consistent_read=True)
    except RuleSetItem.DoesNotExist:
        return None


def compiled_rules(shop_id: str, version: int) -> CompiledRules:
    def load() -> tuple[list, str]:
        item = _full_ruleset(shop_id)
        if item is None:
            return [], "Asia/Shanghai"
        return decode_rules(item.rules_blob), item.timezone

    return cached(shop_id, version, load)


def _text_of(kind: str | None, content: dict[str, Any]) -> str:
    if kind == "text":
        return str(content.get("text") or "")
    return " ".join(str(content.get(k) or "") for k in ("title", "status")).strip()


def latest_order_facts(
    shop_id: str, customer_id: str
) -> Callable[[], tuple[frozenset[str], frozenset[str]]]:
    def lookup() -> tuple[frozenset[str], frozenset[str]]:
        try:  # kefu.orders may not be deployed with this layer: then there is no order category
            from kefu.orders import recent_orders
        except ImportError:
            return frozenset(), frozenset()
        try:
            orders = recent_orders(shop_id, customer_id, limit=1)
        except Exception:
            return frozenset(), frozenset()
        categories: set[str] = set()
        sellers: set[str] = set()
        for order in orders[:1]:
            for line in order.get("items") or []:
                if line.get("category"):
                    categories.add(str(line["category"]).lower())
                if line.get("seller_shop_id"):
                    sellers.add(str(line["seller_shop_id"]))
        return frozenset(categories), frozenset(sellers)

    return lookup


def facts_for(
    shop_id: str,
    data: contracts.ConversationOpened | contracts.HandoffRequested,
    customer: Customer | None,
    at_ms: int,
) -> Facts:
    content = data.content or {}
    category = content.get("category")
    seller = content.get("seller_shop_id")
    customer_id = data.customer_id or (customer.customer_id if customer else "")
    return Facts(
        text=_text_of(data.type, content),
        channel=data.channel,
        tier=customer.tier if customer else None,
        tags=frozenset(customer.tags or []) if customer else frozenset(),
        categories=frozenset({str(category).lower()}) if category else None,
        seller_shops=frozenset({str(seller)}) if seller else None,
        at_ms=at_ms,
        latest_order=latest_order_facts(shop_id, customer_id),
    )


def route_opened(detail: dict[str, Any] | events.Event) -> dict[str, Any]:
    """A new conversation: decide its queue and priority, then assign or leave it waiting.

    Requests when an agent has room: BatchGetItem (customer + rule set version) + GetItem queue
    + BatchGetItem agents + TransactWriteItems = 4 (+1 GetItem when this instance has not yet
    compiled the current rule set version).
    """
    event = events.decode(detail)
    shop_id, data = event.shop_id, event.data
    conversation_id = data.conversation_id
    at = int(event.occurred_at or now_ms())
    customer, version = customer_and_ruleset_version(shop_id, data.customer_id or "")
    decision = compiled_rules(shop_id, version).decide(facts_for(shop_id, data, customer, at))
    queue = decision.queue or _default_queue(shop_id, data.queue)
    route = Route(queue, decision.priority, decision.rule_id, queued_at=at, routed_at=now_ms())
    outcome = assign_or_wait(
        shop_id,
        conversation_id,
        route,
        preferred=customer.last_agent if customer else None,
    )
    if not outcome.taken:
        announce_routed(shop_id, conversation_id, decision, route, outcome.assignee)
    return {"queue": queue, "assignee": outcome.assignee, "waiting": outcome.waiting}


def announce_routed(
    shop_id: str, conversation_id: str, decision: Decision, route: Route, assignee: str | None
) -> None:
    published = [
        events.DomainEvent(
            contracts.ConversationRouted(
                conversation_id=conversation_id,
                queue=route.queue,
                priority=route.priority,
                rule_id=decision.rule_id,
                assignee=assignee,
            ),
            shop_id,
            f"{events.CONVERSATION_ROUTED}:{conversation_id}",
            occurred_at=route.routed_at or now_ms(),
        )
    ]
    events.publish(*published)
    if assignee:
        publish_assigned(shop_id, conversation_id, assignee, by="routing")


def _reassign_in_queue(
    shop_id: str, conversation_id: str, *, exclude: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A conversation already waiting in its queue (reopened, transferred): try to assign."""
    try:
        conv = Conversation.get(shop_id, conversation_id, consistent_read=True)
    except Conversation.DoesNotExist:
        return {"skipped": "missing"}
    if conv.status != "queued" or conv.assignee:
        return {"skipped": conv.status}
    preferred = None
    if not exclude:
        try:
            preferred = Customer.get(shop_id, Customer.key(conv.customer_id)).last_agent
        except Customer.DoesNotExist:
            preferred = None
    route = Route(conv.queue, int(conv.priority or 0), queued_at=int(conv.queued_at or now_ms()))
    outcome = assign_or_wait(
        shop_id,
        conversation_id,
        route,
        preferred=preferred,
        exclude=exclude,
        already_waiting=bool(conv.wait_queue),
    )
    if outcome.assignee:
        publish_assigned(shop_id, conversation_id, outcome.assignee, by="routing")
    return {"queue": conv.queue, "assignee": outcome.assignee, "waiting": outcome.waiting}


def handle(detail: dict[str, Any] | events.Event) -> dict[str, Any]:
    event = events.decode(detail)
    shop_id, data = event.shop_id, event.data
    if isinstance(data, contracts.ConversationOpened) and data.status == "bot":
        return {"skipped": "with the bot"}
    if isinstance(data, (contracts.ConversationOpened, contracts.HandoffRequested)):
        return route_opened(event)
    if isinstance(data, contracts.MessageReceived):
        if not data.reopened:
            return {"skipped": "not reopened"}
        return _reassign_in_queue(shop_id, data.conversation_id)
    if isinstance(data, contracts.ConversationTransferred):
        if not data.to_queue:
            return {"skipped": "transferred to an agent"}
        previous = data.from_agent
        return _reassign_in_queue(
            shop_id, data.conversation_id, exclude=(previous,) if previous else ()
        )
    if isinstance(data, contracts.CustomerTierChanged):
        from kefu.routing.tier_change import on_tier_changed

        return on_tier_changed(shop_id, data)
    if isinstance(data, contracts.AgentSlotFreed):
        assigned = drain(shop_id, data.username, default_queue=_default_queue(shop_id, None))
        return {"assigned": assigned}
    return {"skipped": event.type}
