"""Custom customer attributes a shop defines (/v1/customer-attributes): text, number, date,
single or multiple choice, yes/no. Values on a customer are validated against the definitions
on every write: an unknown attribute or a value of the wrong type is a 400 and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers.fields import ISO_DATE
from kefu.errors import BadRequest, Conflict
from kefu.ids import now_ms
from kefu.storage.customers import ATTRDEF_PREFIX, CustomerAttributeDef

TYPES = ("text", "number", "date", "single_choice", "multi_choice", "bool")
MAX_ATTRIBUTES = 50  # per shop
MAX_OPTIONS = 100
TEXT_MAX = 500

AttributeId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Option = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class NewAttribute(msgspec.Struct, forbid_unknown_fields=True):
    attribute_id: AttributeId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    type: Annotated[
        str, msgspec.Meta(pattern=r"^(text|number|date|single_choice|multi_choice|bool)$")
    ]
    options: Annotated[list[Option], msgspec.Meta(max_length=MAX_OPTIONS)] | None = None
    max_length: Annotated[int, msgspec.Meta(ge=1, le=TEXT_MAX)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class AttributeChange(msgspec.Struct, forbid_unknown_fields=True):
    """The type cannot change (values already written would stop fitting); options may be
    added, and renamed only by removing and adding."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | UnsetType = UNSET
    options: Annotated[list[Option], msgspec.Meta(max_length=MAX_OPTIONS)] | UnsetType = UNSET
    max_length: Annotated[int, msgspec.Meta(ge=1, le=TEXT_MAX)] | None | UnsetType = UNSET
    description: Annotated[str, msgspec.Meta(max_length=200)] | None | UnsetType = UNSET


def view(d: CustomerAttributeDef) -> dict[str, Any]:
    return {
        "attribute_id": d.attribute_id,
        "name": d.name,
        "type": d.type,
        "options": list(d.options) if d.options is not None else None,
        "max_length": d.max_length,
        "description": d.description,
        "created_at": d.created_at,
        "created_by": d.created_by,
        "updated_at": d.updated_at,
        "updated_by": d.updated_by,
    }


def definitions(shop_id: str) -> dict[str, CustomerAttributeDef]:
    """Every attribute the shop defined (at most 50: one Query page)."""
    found = CustomerAttributeDef.query(
        shop_id, CustomerAttributeDef.sk.startswith(ATTRDEF_PREFIX), consistent_read=True
    )
    return {d.attribute_id: d for d in found}


def _check_options(type_: str, options: list[str] | None) -> list[str] | None:
    if type_ in ("single_choice", "multi_choice"):
        if not options:
            raise BadRequest(f"a {type_} attribute needs options", code="options_required")
        if len(set(options)) != len(options):
            raise BadRequest("options repeat a value", code="duplicate_option")
        return options
    if options:
        raise BadRequest(f"a {type_} attribute has no options", code="unexpected_options")
    return None


def list_attributes(actor: StaffActor) -> dict[str, Any]:
    p.require(actor, p.CUSTOMERS_READ)
    items = sorted(definitions(actor.shop_id).values(), key=lambda d: d.created_at)
    return {"attributes": [view(d) for d in items]}


def create_attribute(actor: StaffActor, req: NewAttribute) -> dict[str, Any]:
    from pynamodb.exceptions import TransactWriteError

    from kefu.audit import staff_change
    from kefu.storage.tx import condition_failed, write_transaction

    p.require(actor, p.CUSTOMERS_ATTRIBUTES_MANAGE)
    if len(definitions(actor.shop_id)) >= MAX_ATTRIBUTES:
        raise Conflict(
            f"a shop has at most {MAX_ATTRIBUTES} attributes", code="too_many_attributes"
        )
    at = now_ms()
    item = CustomerAttributeDef(
        actor.shop_id,
        CustomerAttributeDef.key(req.attribute_id),
        attribute_id=req.attribute_id,
        name=req.name,
        type=req.type,
        options=_check_options(req.type, req.options),
        max_length=req.max_length if req.type == "text" else None,
        description=req.description,
        created_at=at,
        created_by=actor.username,
        updated_at=at,
        updated_by=actor.username,
    )
    try:
        with write_transaction() as tx:
            tx.save(item, condition=CustomerAttributeDef.sk.does_not_exist())
            tx.save(
                staff_change(
                    actor,
                    action="customer_attribute.created",
                    target_type="customer_attribute",
                    target_id=req.attribute_id,
                    after=view(item),
                    at_ms=at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            raise Conflict(
                f"attribute {req.attribute_id!r} exists", code="attribute_exists"
            ) from None
        raise
    return view(item)


def _get(shop_id: str, attribute_id: str) -> CustomerAttributeDef:
    return CustomerAttributeDef.get_or_404(
        shop_id,
        CustomerAttributeDef.key(attribute_id),
        message=f"no customer attribute {attribute_id!r}",
        code="attribute_not_found",
        consistent_read=True,
    )


def update_attribute(actor: StaffActor, attribute_id: str, req: AttributeChange) -> dict[str, Any]:
    from kefu.audit import staff_change
    from kefu.storage.tx import write_transaction

    p.require(actor, p.CUSTOMERS_ATTRIBUTES_MANAGE)
    item = _get(actor.shop_id, attribute_id)
    before = view(item)
    if req.name is not UNSET:
        item.name = req.name
    if req.options is not UNSET:
        options = _check_options(item.type, req.options) or []
        removed = set(item.options or []) - set(options)
        if removed:
            raise BadRequest(
                f"options cannot be removed (customers may hold them): {sorted(removed)}",
                code="option_in_use",
            )
        item.options = options  # type: ignore[assignment]  # a list of str, as declared
    if req.max_length is not UNSET:
        if item.type != "text":
            raise BadRequest("max_length is for text attributes", code="unexpected_max_length")
        item.max_length = req.max_length
    if req.description is not UNSET:
        item.description = req.description
    at = now_ms()
    item.updated_at, item.updated_by = at, actor.username
    with write_transaction() as tx:
        tx.save(item, condition=CustomerAttributeDef.updated_at == before["updated_at"])
        tx.save(
            staff_change(
                actor,
                action="customer_attribute.updated",
                target_type="customer_attribute",
                target_id=attribute_id,
                before=before,
                after=view(item),
                at_ms=at,
            )
        )
    return view(item)


def delete_attribute(actor: StaffActor, attribute_id: str) -> None:
    """The definition goes; values customers hold stay in their item until their next edit
    (which drops what no definition describes) and are no longer shown."""
    from kefu.audit import staff_change
    from kefu.storage.tx import write_transaction

    p.require(actor, p.CUSTOMERS_ATTRIBUTES_MANAGE)
    item = _get(actor.shop_id, attribute_id)
    with write_transaction() as tx:
        tx.delete(item)
        tx.save(
            staff_change(
                actor,
                action="customer_attribute.deleted",
                target_type="customer_attribute",
                target_id=attribute_id,
                before=view(item),
            )
        )


# ----------------------------------------------------------------------------- values


def _bad(attribute_id: str, message: str) -> BadRequest:
    return BadRequest(
        f"attribute {attribute_id!r}: {message}",
        code="invalid_attribute_value",
        details={"attribute_id": attribute_id},
    )


def check_value(d: CustomerAttributeDef, value: Any) -> Any:
    """The value as stored, or a 400 naming the attribute."""
    aid = d.attribute_id
    if d.type == "text":
        if not isinstance(value, str):
            raise _bad(aid, "expected text")
        limit = d.max_length or TEXT_MAX
        if len(value) > limit:
            raise _bad(aid, f"longer than {limit} characters")
        return value
    if d.type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(aid, "expected a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad(aid, "expected a finite number")
        return value
    if d.type == "date":
        try:
            if isinstance(value, str) and ISO_DATE.fullmatch(value):
                return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        raise _bad(aid, "expected a date, YYYY-MM-DD")
    if d.type == "bool":
        if not isinstance(value, bool):
            raise _bad(aid, "expected true or false")
        return value
    options = set(d.options or [])
    if d.type == "single_choice":
        if value not in options:
            raise _bad(aid, f"expected one of {sorted(options)}")
        return value
    # multi_choice
    if not isinstance(value, list) or not all(v in options for v in value):
        raise _bad(aid, f"expected a list of {sorted(options)}")
    return sorted(set(value))


def apply_values(
    shop_id: str, current: dict[str, Any] | None, changes: dict[str, Any]
) -> dict[str, Any]:
    """The customer's attributes after `changes` (null removes one). Values of attributes the
    shop deleted are dropped; an attribute it never defined is a 400 `unknown_attribute`."""
    defs = definitions(shop_id)
    unknown = sorted(set(changes) - set(defs))
    if unknown:
        raise BadRequest(
            f"unknown customer attribute(s) {unknown}: define them with "
            "POST /v1/customer-attributes first",
            code="unknown_attribute",
            details={"attributes": unknown},
        )
    out = {k: v for k, v in (current or {}).items() if k in defs}
    for aid, value in changes.items():
        if value is None:
            out.pop(aid, None)
        else:
            out[aid] = check_value(defs[aid], value)
    return out


def shown(shop_id: str, values: dict[str, Any] | None, defs: dict | None = None) -> dict[str, Any]:
    """The values whose attribute still exists."""
    if not values:
        return {}
    known = defs if defs is not None else definitions(shop_id)
    return {k: v for k, v in values.items() if k in known}
