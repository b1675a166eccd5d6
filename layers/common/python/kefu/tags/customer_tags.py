"""Staff tagging one customer from the workbench or the profile (agents may: 打标签 is part of
serving a customer), and the customer's tag history. Each change is audited in the transaction
that makes it; the history records `staff:<username>` as its source."""

from __future__ import annotations

from typing import Annotated

import msgspec

from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.pagination import decode_cursor, encode_cursor
from kefu.tags import assign
from kefu.tags.catalog import get_tag_item, require_tags

TagIds = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]],
    msgspec.Meta(min_length=1, max_length=assign.MAX_TAGS_PER_CHANGE),
]


class TagCustomer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    tag_ids: TagIds


_audit = StaffChanges("customer")


def tag_customer(actor: StaffActor, customer_id: str, req: TagCustomer) -> dict:
    p.require(actor, p.CUSTOMERS_TAG)
    tag_ids = assign.check_ids(req.tag_ids)
    require_tags(actor.shop_id, tag_ids)
    customer = assign.load_customer(actor.shop_id, customer_id)
    change = assign.apply(
        customer,
        add=tag_ids,
        source=actor.actor_id,
        audit=lambda ch, at: _audit(
            actor, "customer.tagged", customer_id, {"tags": ch.tags}, {"added": ch.added}, at
        ),
    )
    return change.to_public()


def untag_customer(actor: StaffActor, customer_id: str, tag_id: str) -> dict:
    p.require(actor, p.CUSTOMERS_TAG)
    get_tag_item(actor.shop_id, tag_id)  # 404 tag_not_found for a tag the shop does not have
    customer = assign.load_customer(actor.shop_id, customer_id)
    change = assign.apply(
        customer,
        remove=[tag_id],
        source=actor.actor_id,
        audit=lambda ch, at: _audit(
            actor, "customer.untagged", customer_id, {"tags": ch.tags}, {"removed": ch.removed}, at
        ),
    )
    return change.to_public()


def customer_history(
    actor: StaffActor, customer_id: str, *, limit: int = 50, cursor: str | None = None
) -> dict:
    p.require(actor, p.TAGS_READ)
    customer = assign.load_customer(actor.shop_id, customer_id)
    items, last = assign.history(
        actor.shop_id,
        customer_id,
        limit=limit,
        cursor=decode_cursor(cursor, shop_id=actor.shop_id),
    )
    return {
        "customer_id": customer_id,
        "tags": list(customer.tags or []),
        "history": items,
        "next_cursor": encode_cursor(last),
    }
