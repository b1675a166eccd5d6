"""The bulk operations on customers, as job kinds (kefu.jobs, docs/jobs.md): tag, untag, set the
owner agent (专属客服), set a custom attribute, back-fill an auto-tag rule.

Each chunk reads its customers with one BatchGetItem, then changes each with one write that
changes nothing when the customer is already as asked — so a chunk replayed after a crash is
harmless. A customer that cannot be changed (gone, at the tag limit) is an error of the job
with its reason; the others go on. Tag changes record `staff:<the submitter>` as their source.
"""

from __future__ import annotations

import re
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.operand import Path

from kefu.errors import BadRequest, Conflict
from kefu.events import publish
from kefu.jobs import ChunkOutcome, JobKind
from kefu.storage.customers import Customer
from kefu.storage.jobs import Job
from kefu.storage.shops import StaffMember
from kefu.tags import assign
from kefu.tags.catalog import require_tags

ATTRIBUTE_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _customers(shop_id: str, ids: list[str]) -> dict[str, Customer]:
    keys = [(shop_id, Customer.key(i)) for i in ids]
    return {c.customer_id: c for c in Customer.batch_get(keys, consistent_read=True)}


def _tag_ids(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    raw = params.get("tag_ids")
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise BadRequest("params.tag_ids must be a list of tag ids", code="validation_error")
    if set(params) - {"tag_ids"}:
        raise BadRequest("params takes only tag_ids", code="validation_error")
    return {"tag_ids": require_tags(shop_id, assign.check_ids(raw))}


def _tag_run(job: Job, ids: list[str], *, remove: bool) -> ChunkOutcome:
    out = ChunkOutcome()
    found = _customers(job.shop_id, ids)
    changes = []
    tag_ids = job.params["tag_ids"]
    for customer_id in ids:
        customer = found.get(customer_id)
        if customer is None:
            out.fail(customer_id, "customer_not_found")
            continue
        try:
            change = assign.apply(
                customer,
                add=[] if remove else tag_ids,
                remove=tag_ids if remove else [],
                source=job.actor,
                announce=False,
            )
        except (BadRequest, Conflict) as exc:
            out.fail(customer_id, exc.code)
            continue
        out.done += 1
        if change.changed:
            changes.append(change)
    if changes:  # one PutEvents per 10 changed customers
        publish(*assign.change_events(job.shop_id, changes, job.actor))
    return out


def _check_owner(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    if set(params) != {"owner_agent"}:
        raise BadRequest("params takes owner_agent (a username, or null)", code="validation_error")
    username = params["owner_agent"]
    if username is None:
        return {"owner_agent": None}
    if not isinstance(username, str) or not username or len(username) > 64:
        raise BadRequest("owner_agent must be a username or null", code="validation_error")
    try:
        member = StaffMember.get(shop_id, StaffMember.key(username))
    except StaffMember.DoesNotExist:
        member = None
    if member is None or member.status != "active":
        raise BadRequest(f"no active staff member {username!r}", code="unknown_agent")
    return {"owner_agent": username}


def _set_run(job: Job, ids: list[str], path: list[str], value: Any) -> ChunkOutcome:
    """SET one attribute on each customer (setting what is there already changes nothing)."""
    out = ChunkOutcome()
    for customer_id in ids:
        item = Customer(job.shop_id, Customer.key(customer_id))
        exists = Customer.customer_id.exists()
        try:
            if len(path) == 1:
                action = Path(path[0]).remove() if value is None else Path(path[0]).set(value)
                item.update(actions=[action], condition=exists)
            else:
                _set_nested(item, path, value)
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                out.fail(customer_id, "customer_not_found")
                continue
            raise
        out.done += 1
    return out


def _set_nested(item: Customer, path: list[str], value: Any) -> None:
    """attributes.<id> = value; the map is created by the first attribute set on a customer."""
    exists = Customer.customer_id.exists()
    top = Path(path[0])
    if value is None:  # null removes the attribute; without the map there is nothing to remove
        try:
            item.update(actions=[Path(path).remove()], condition=exists & top.exists())
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
            try:  # no map (nothing to do) or no customer (its error)?
                item.refresh(consistent_read=True)
            except Customer.DoesNotExist:
                raise exc from None
        return
    try:
        item.update(actions=[Path(path).set(value)], condition=exists & top.exists())
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        try:
            item.update(actions=[top.set({path[1]: value})], condition=exists & ~top.exists())
        except UpdateError as again:
            if getattr(again, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
            # The map appeared meanwhile (or the customer is gone): one more try says which.
            item.update(actions=[Path(path).set(value)], condition=exists & top.exists())


def _check_attribute(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The attribute must be one the shop defined (/v1/customer-attributes) and the value fit
    its type and choices — checked at submit, so a job never starts to write a wrong value.
    null removes the attribute from the selected customers."""
    from kefu.customers.attributes import check_value, definitions

    if set(params) != {"attribute_id", "value"}:
        raise BadRequest("params takes attribute_id and value", code="validation_error")
    attribute_id, value = params["attribute_id"], params["value"]
    if not isinstance(attribute_id, str) or not ATTRIBUTE_ID.match(attribute_id):
        raise BadRequest("attribute_id must look like vip_level", code="unknown_attribute")
    defined = definitions(shop_id).get(attribute_id)
    if defined is None:
        raise BadRequest(
            f"unknown customer attribute {attribute_id!r}: define it with "
            "POST /v1/customer-attributes first",
            code="unknown_attribute",
            details={"attributes": [attribute_id]},
        )
    stored = None if value is None else check_value(defined, value)
    return {"attribute_id": attribute_id, "value": stored}


def _backfill_check(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    from kefu.tags.backfill import check_params

    return check_params(shop_id, params)


def _backfill_run(job: Job, ids: list[str]) -> ChunkOutcome:
    from kefu.tags.backfill import run_chunk

    return run_chunk(job, ids)


JOB_KINDS = {
    "tag": JobKind("tag", _tag_ids, lambda job, ids: _tag_run(job, ids, remove=False)),
    "untag": JobKind("untag", _tag_ids, lambda job, ids: _tag_run(job, ids, remove=True)),
    "set_owner_agent": JobKind(
        "set_owner_agent",
        _check_owner,
        lambda job, ids: _set_run(job, ids, ["owner_agent"], job.params["owner_agent"]),
    ),
    "set_attribute": JobKind(
        "set_attribute",
        _check_attribute,
        lambda job, ids: _set_run(
            job, ids, ["attributes", job.params["attribute_id"]], job.params["value"]
        ),
    ),
    "rule_backfill": JobKind("rule_backfill", _backfill_check, _backfill_run),
}
