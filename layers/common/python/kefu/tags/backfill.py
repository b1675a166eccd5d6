"""Back-filling an auto-tag rule (the `rule_backfill` job kind, docs/tags.md): the customers the
rule matches today get its tags, as if the events had happened with the rule in place.

What "matches today" reads, per kind:
- tier_changed, attribute  the customer item (tier, attributes): one BatchGetItem per chunk;
- order, order_count, refund  the customer's orders (one Query of by_placed per customer).
Keyword, intent and campaign rules match one moment's event, which kefu does not keep: they are
refused at submission (400 backfill_unsupported).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from kefu.aws import client
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import now_ms
from kefu.jobs import ChunkOutcome
from kefu.storage.customers import Customer
from kefu.storage.jobs import Job
from kefu.storage.orders import Order, customer_key
from kefu.storage.tags import AutoTagRule
from kefu.tags import assign
from kefu.tags.rules import BACKFILL_KINDS, amount, parse_trigger

DAY_MS = 24 * 3600 * 1000
PAID = frozenset({"paid", "shipped", "delivered", "refund_requested", "refunded"})
COUNTED = PAID | {"created"}
_des = TypeDeserializer()


def _rule(shop_id: str, rule_id: str) -> AutoTagRule:
    try:
        return AutoTagRule.get(shop_id, AutoTagRule.key(rule_id), consistent_read=True)
    except AutoTagRule.DoesNotExist:
        raise NotFound(f"no auto-tag rule {rule_id!r}", code="rule_not_found") from None


def check_params(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    rule_id = params.get("rule_id")
    if set(params) != {"rule_id"} or not isinstance(rule_id, str):
        raise BadRequest("params takes rule_id", code="validation_error")
    rule = _rule(shop_id, rule_id)
    if rule.trigger["kind"] not in BACKFILL_KINDS:
        raise BadRequest(
            f"a {rule.trigger['kind']} rule cannot be back-filled", code="backfill_unsupported"
        )
    return {"rule_id": rule_id}


def _customers(shop_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The chunk's customers as stored (custom attributes included), one BatchGetItem."""
    table = str(Customer.Meta.table_name)
    keys = [{"pk": {"S": shop_id}, "sk": {"S": Customer.key(i)}} for i in ids]
    out: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {
        table: {
            "Keys": keys,
            "ConsistentRead": True,
            "ProjectionExpression": "customer_id, tags, tier, #a",
            "ExpressionAttributeNames": {"#a": "attributes"},
        }
    }
    while request:
        resp = client("dynamodb").batch_get_item(RequestItems=request)
        for raw in resp.get("Responses", {}).get(table, []):
            item = {k: _des.deserialize(v) for k, v in raw.items()}
            out[item["customer_id"]] = item
        request = resp.get("UnprocessedKeys") or {}
    return out


def _orders(shop_id: str, customer_id: str, since: int | None = None) -> list[Order]:
    key = customer_key(shop_id, customer_id)
    if since is None:
        return list(Order.by_placed.query(key))
    return list(Order.by_placed.query(key, Order.placed_at >= since))


def _matches(trigger: Any, kind: str, shop_id: str, item: dict[str, Any]) -> bool:
    if kind == "tier_changed":
        return item.get("tier") in trigger.tiers
    if kind == "attribute":
        value = (item.get("attributes") or {}).get(trigger.attribute_id)
        values = value if isinstance(value, list) else [value]
        norm = [float(v) if isinstance(v, Decimal) else v for v in values]
        return any(v in trigger.values for v in norm)
    customer_id = item["customer_id"]
    if kind == "order_count":
        since = now_ms() - trigger.days * DAY_MS
        counted = [o for o in _orders(shop_id, customer_id, since) if o.status in COUNTED]
        return len(counted) >= trigger.orders
    if kind == "refund":
        wanted = {"refund_requested", "refunded"} if trigger.stage == "requested" else {"refunded"}
        return any(o.status in wanted for o in _orders(shop_id, customer_id))
    if kind == "order":
        for o in _orders(shop_id, customer_id):
            if o.status not in PAID:
                continue
            categories = {line.category for line in o.items or [] if line.category}
            if trigger.categories and not categories & set(trigger.categories):
                continue
            paid = amount(o.amount)
            if trigger.min_amount is not None and (
                paid is None or paid < Decimal(trigger.min_amount)
            ):
                continue
            return True
    return False


def run_chunk(job: Job, ids: list[str]) -> ChunkOutcome:
    out = ChunkOutcome()
    try:
        rule = _rule(job.shop_id, job.params["rule_id"])
    except NotFound:  # deleted since: nothing to back-fill
        for customer_id in ids:
            out.fail(customer_id, "rule_not_found")
        return out
    trigger, kind = parse_trigger(rule.trigger), rule.trigger["kind"]
    source = f"rule:{rule.rule_id}"
    found = _customers(job.shop_id, ids)
    changes = []
    for customer_id in ids:
        item = found.get(customer_id)
        if item is None:
            out.fail(customer_id, "customer_not_found")
            continue
        out.done += 1
        if not _matches(trigger, kind, job.shop_id, item):
            continue
        customer = Customer(
            job.shop_id,
            Customer.key(customer_id),
            customer_id=customer_id,
            tags=list(item.get("tags") or []),
        )
        try:
            change = assign.apply(
                customer, add=[str(t) for t in rule.tag_ids], source=source, announce=False
            )
        except (BadRequest, Conflict) as exc:
            out.done -= 1
            out.fail(customer_id, exc.code)
            continue
        if change.changed:
            changes.append(change)
    if changes:
        from kefu.events import publish

        publish(*assign.change_events(job.shop_id, changes, source))
    return out
