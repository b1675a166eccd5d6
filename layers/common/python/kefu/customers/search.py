"""GET /v1/customers: a shop's customers, by last contact (newest first), or found by `q` or by
an order number, or filtered by tag, tier and saved segment (and sorted by spend) through the
segment index. Every read is a Query or a (Batch)GetItem on a key or index, never a Scan.

`q` finds, in this order (exact matches first, on the first page only):
- a phone number (normalised, then its keyed hash: LOOKUP items),
- a real name (its keyed hash, exact, case-insensitive),
- an external id (the shop's app user id, a WeChat unionid or openid: identity items),
then display names / WeChat nicknames starting with `q` (NAME items, paged).
Merged and erased profiles are left out (a merged one answers at its own URL).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers import APP_USER, WECHAT_OPENID, WECHAT_UNIONID, crypto, fields
from kefu.customers.profiles import PHONE, REAL_NAME, purchase_summary, stage
from kefu.errors import BadRequest
from kefu.pagination import decode_cursor, encode_cursor
from kefu.storage.customers import Customer, CustomerIdentity, CustomerLookup, CustomerName

_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-()]{7,20}$")
MAX_Q = 64


def summary(customer: Customer) -> dict[str, Any]:
    """A customer in a list: masked always (a list is never an unmasked read)."""
    masked = customer.masked.as_dict() if customer.masked is not None else {}
    phones = masked.get("phones") or (
        [fields.mask_phone(customer.contact)] if customer.contact else []
    )
    return {
        "customer_id": customer.customer_id,
        "display_name": customer.display_name,
        "avatar_url": customer.avatar_url,
        "real_name": masked.get("real_name"),
        "contact": phones[0] if phones else None,
        "channels": list(customer.channels or []),
        "lifecycle_stage": stage(customer),
        "owner_agent": customer.owner_agent,
        "tier": customer.tier,
        "tags": list(customer.tags or []),
        "purchase_summary": purchase_summary(customer),
        "last_contact_at": customer.last_contact_at,
        "created_at": customer.created_at,
    }


def _listed(customer: Customer | None) -> bool:
    return customer is not None and not customer.merged_into and not customer.erased_at


def _get_many(shop_id: str, ids: list[str]) -> list[Customer]:
    if not ids:
        return []
    keys = [(shop_id, Customer.key(cid)) for cid in dict.fromkeys(ids)]
    found = {c.customer_id: c for c in Customer.batch_get(keys)}
    return [found[cid] for cid in dict.fromkeys(ids) if cid in found]


def _exact(shop_id: str, q: str) -> list[str]:
    """Customer ids whose phone, real name or external id is exactly `q`."""
    ids: list[str] = []
    lookups: list[tuple[str, str]] = []
    if _PHONE_LIKE.match(q):
        # Not a number after all: the other searches still apply.
        with contextlib.suppress(BadRequest):
            lookups.append((PHONE, fields.normalise_phone(q)))
    lookups.append((REAL_NAME, fields.normalise_name(q)))
    for kind, value in lookups:
        prefix = CustomerLookup.prefix(kind, crypto.lookup_hash(shop_id, kind, value))
        for item in CustomerLookup.query(shop_id, CustomerLookup.sk.startswith(prefix), limit=20):
            ids.append(item.customer_id)
    if _EXTERNAL_ID.match(q):
        keys = [
            (shop_id, CustomerIdentity.key(kind, q))
            for kind in (APP_USER, WECHAT_UNIONID, WECHAT_OPENID)
        ]
        ids += [i.customer_id for i in CustomerIdentity.batch_get(keys)]
    return ids


SORTS = ("last_contact", "spend")
_FILTER_VALUE = re.compile(r"^[\w.:-]{1,128}$")


def _filtered(
    actor: StaffActor,
    *,
    tag: str | None,
    tier: str | None,
    segment: str | None,
    sort: str,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The list through the segment index (kefu.segments.query): a tag, a tier, a saved
    segment (ANDed), sorted by last contact or spend, largest first, with the exact count.
    The page's customers are read once more as profiles, so a filtered list shows the same
    (masked) summary as the plain one."""
    from kefu.segments.query import customer_list_page

    for name, value in (("tag", tag), ("tier", tier), ("segment", segment)):
        if value is not None and not _FILTER_VALUE.match(value):
            raise BadRequest(f"{name} is not an id kefu gives", code=f"invalid_{name}")
    found = customer_list_page(
        actor.shop_id,
        tag=tag,
        tier=tier,
        segment=segment,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    ids = [str(c["customer_id"]) for c in found["customers"]]
    customers = [c for c in _get_many(actor.shop_id, ids) if _listed(c)]
    return {
        "customers": [summary(c) for c in customers],
        "next_cursor": found["next_cursor"],
        "count": found["count"],
    }


def list_customers(
    actor: StaffActor,
    *,
    q: str | None = None,
    order_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    tag: str | None = None,
    tier: str | None = None,
    segment: str | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    p.require(actor, p.CUSTOMERS_READ)
    shop = actor.shop_id
    if sort is not None and sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}", code="invalid_sort")
    if tag or tier or segment or sort == "spend":
        if q is not None or order_id is not None:
            raise BadRequest(
                "tag, tier, segment and sort=spend do not combine with q or order_id",
                code="filter_with_search",
            )
        return _filtered(
            actor,
            tag=tag,
            tier=tier,
            segment=segment,
            sort=sort or "last_contact",
            limit=limit,
            cursor=cursor,
        )
    start = decode_cursor(cursor, shop_id=shop)
    if order_id is not None:
        if not order_id.strip() or len(order_id) > 128:
            raise BadRequest("order_id must be 1 to 128 characters", code="invalid_order_id")
        return {"customers": [summary(c) for c in by_order(shop, order_id)], "next_cursor": None}
    exact: list[Customer] = []
    if q is not None:
        q = q.strip()
        if not q or len(q) > MAX_Q:
            raise BadRequest(f"q must be 1 to {MAX_Q} characters", code="invalid_q")
        if start is None:
            exact = [c for c in _get_many(shop, _exact(shop, q)) if _listed(c)]
        names = CustomerName.query(
            shop,
            CustomerName.sk.startswith(CustomerName.prefix(q)),
            limit=limit,
            last_evaluated_key=start,
        )
        page = [c for c in _get_many(shop, [n.customer_id for n in names]) if _listed(c)]
        last_key = names.last_evaluated_key
    else:
        results = Customer.by_last_contact.query(
            shop, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        page = [c for c in results if _listed(c)]
        last_key = results.last_evaluated_key
    seen = {c.customer_id for c in exact}
    customers = exact + [c for c in page if c.customer_id not in seen]
    return {
        "customers": [summary(c) for c in customers],
        "next_cursor": encode_cursor(last_key),
    }


def by_order(shop_id: str, order_id: str) -> list[Customer]:
    """The customer of an order number (OrdersTable's by_order index), followed to the profile it
    was merged into."""
    from kefu.storage.orders import Order

    for order in Order.by_order.query(Order.order_key(shop_id, order_id), limit=1):
        found = _get_many(shop_id, [order.customer_id])
        if found and found[0].merged_into:
            found = _get_many(shop_id, [found[0].merged_into])
        return [c for c in found if _listed(c)]
    return []
