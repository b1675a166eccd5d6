"""Merging two profiles of one person (POST /v1/customers/{id}/merge/preview, …/merge): staff
see what would move, then merge; never automatic (an identity the shop's server vouches for that
belongs to another customer is reported, kefu.customers.link_identities, not merged).

`customer_id` survives; `merge_id` keeps its item with `merged_into` (its history stays
readable), and everything that hangs off it moves:
- conversations and tickets are re-pointed (their `by_customer` index copy with them), orders
  move to the survivor's partition of OrdersTable (one transaction each: put there, delete here);
  browsing activity stays where it is and expires (90 days);
- the identities are re-pointed, so the person's next message or order reaches the survivor;
- tags and channels are joined, notes appended, the purchase summary added up, phones and
  addresses joined and a missing real name or birthday taken (re-encrypted for the survivor:
  an envelope is bound to its customer), their lookups moved;
then one transaction writes both customers, the identities, the lookups and the audit record.
The moves before it are idempotent (each is conditional on still pointing at `merge_id`), so a
merge interrupted midway is finished by sending it again.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

import msgspec

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers import crypto, fields
from kefu.customers.profiles import PHONE, REAL_NAME, load
from kefu.errors import BadRequest, Conflict
from kefu.ids import now_ms
from kefu.storage.customers import Customer, CustomerIdentity, CustomerLookup, CustomerName

MAX_MOVE = 200  # conversations, tickets or orders a merge moves (more: ask an engineer)


class MergeRequest(msgspec.Struct, forbid_unknown_fields=True):
    merge_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def _conversations(shop_id: str, customer_id: str) -> list[Any]:
    from kefu.storage.conversations import Conversation

    return list(
        Conversation.by_customer.query(
            Conversation.customer_key(shop_id, customer_id), limit=MAX_MOVE + 1
        )
    )


def _tickets(shop_id: str, customer_id: str) -> list[Any]:
    from kefu.storage.tickets import Ticket

    return list(
        Ticket.by_customer.query(Ticket.customer_key(shop_id, customer_id), limit=MAX_MOVE + 1)
    )


def _orders(shop_id: str, customer_id: str) -> list[Any]:
    from kefu.storage.orders import ORDER_PREFIX, Order, customer_key

    return list(
        Order.query(
            customer_key(shop_id, customer_id),
            Order.sk.startswith(ORDER_PREFIX),
            consistent_read=True,
            limit=MAX_MOVE + 1,
        )
    )


def _pair(actor: StaffActor, customer_id: str, merge_id: str) -> tuple[Customer, Customer]:
    p.require(actor, p.CUSTOMERS_MERGE)
    if customer_id == merge_id:
        raise BadRequest("a customer cannot be merged into itself", code="same_customer")
    survivor, merged = load(actor.shop_id, customer_id), load(actor.shop_id, merge_id)
    for c in (survivor, merged):
        if c.erased_at:
            raise Conflict(f"customer {c.customer_id} was erased", code="customer_erased")
        if c.merged_into:
            raise Conflict(
                f"customer {c.customer_id} was already merged into {c.merged_into}",
                code="customer_merged",
                details={"merged_into": c.merged_into},
            )
    return survivor, merged


def _blocked(survivor: Customer, merged: Customer, counts: dict[str, int]) -> str | None:
    if survivor.open_conversation_id and merged.open_conversation_id:
        return "both_open"  # one customer has one open conversation: resolve one first
    if any(n > MAX_MOVE for n in counts.values()):
        return "too_many"
    return None


def preview(actor: StaffActor, customer_id: str, req: MergeRequest) -> dict[str, Any]:
    """What a merge would move, changing nothing."""
    survivor, merged = _pair(actor, customer_id, req.merge_id)
    shop = actor.shop_id
    counts = {
        "conversations": len(_conversations(shop, merged.customer_id)),
        "tickets": len(_tickets(shop, merged.customer_id)),
        "orders": len(_orders(shop, merged.customer_id)),
        "identities": len(merged.identities or []),
    }
    blocked = _blocked(survivor, merged, counts)
    return {
        "customer_id": survivor.customer_id,
        "merge_id": merged.customer_id,
        "moves": {
            **counts,
            "tags": sorted(set(merged.tags or []) - set(survivor.tags or [])),
            "notes": bool(merged.notes),
            "phones": len((merged.masked.as_dict() if merged.masked else {}).get("phones") or []),
        },
        "purchase_summary_after": _summary_after(survivor, merged),
        "blocked": blocked,
    }


def _summary_after(a: Customer, b: Customer) -> dict[str, Any]:
    count = int(a.orders_count or 0) + int(b.orders_count or 0)
    spent = int(a.total_spent or 0) + int(b.total_spent or 0)
    firsts = [t for t in (a.first_purchase_at, b.first_purchase_at) if t]
    lasts = [t for t in (a.last_purchase_at, b.last_purchase_at) if t]
    return {
        "orders_count": count,
        "total_spent": spent,
        "avg_order_value": spent // count if count else 0,
        "refunds_count": int(a.refunds_count or 0) + int(b.refunds_count or 0),
        "first_purchase_at": min(firsts) if firsts else None,
        "last_purchase_at": max(lasts) if lasts else None,
        "categories": list(dict.fromkeys([*(a.categories or []), *(b.categories or [])])),
    }


# ----------------------------------------------------------------------------- the moves


def _move_records(shop: str, survivor_id: str, merged_id: str) -> dict[str, int]:
    from pynamodb.exceptions import TransactWriteError, UpdateError

    from kefu.storage.conversations import Conversation
    from kefu.storage.orders import Order, customer_key
    from kefu.storage.tickets import Ticket
    from kefu.storage.tx import write_transaction

    moved = {"conversations": 0, "tickets": 0, "orders": 0}
    for conv in _conversations(shop, merged_id):
        try:
            conv.update(
                actions=[
                    Conversation.customer_id.set(survivor_id),
                    Conversation.shop_customer.set(Conversation.customer_key(shop, survivor_id)),
                ],
                condition=Conversation.customer_id == merged_id,
            )
            moved["conversations"] += 1
        except UpdateError:
            pass  # moved by an earlier attempt (or changed meanwhile): nothing left to do
    for ticket in _tickets(shop, merged_id):
        try:
            ticket.update(
                actions=[
                    Ticket.customer_id.set(survivor_id),
                    Ticket.shop_customer.set(Ticket.customer_key(shop, survivor_id)),
                ],
                condition=Ticket.customer_id == merged_id,
            )
            moved["tickets"] += 1
        except UpdateError:
            pass
    for order in _orders(shop, merged_id):
        copy = Order.from_raw_data(order.serialize())
        copy.pk, copy.customer_id = customer_key(shop, survivor_id), survivor_id
        try:
            with write_transaction() as tx:
                tx.save(copy, condition=Order.pk.does_not_exist())
                tx.delete(order, condition=Order.revision == order.revision)
            moved["orders"] += 1
        except TransactWriteError:
            pass  # moved before, or changed by an event meanwhile: the next attempt moves it
    return moved


def _plain_list(c: Customer, name: str) -> list[Any]:
    envelope = getattr(c, name)
    if not envelope:
        return [c.contact] if name == "phones" and c.contact else []
    return list(json.loads(crypto.decrypt(c.shop_id, c.customer_id, name, envelope)))


def _plain_text(c: Customer, name: str) -> str | None:
    envelope = getattr(c, name)
    return crypto.decrypt(c.shop_id, c.customer_id, name, envelope) if envelope else None


def _personal_after(survivor: Customer, merged: Customer) -> dict[str, Any]:
    """The survivor's personal fields joined with the merged one's (only what changes)."""
    out: dict[str, Any] = {}
    phones = _plain_list(survivor, "phones")
    extra = [ph for ph in _plain_list(merged, "phones") if ph not in phones]
    if extra:
        out["phones"] = (phones + extra)[: fields.MAX_PHONES]
    addresses = _plain_list(survivor, "addresses")
    more = [a for a in _plain_list(merged, "addresses") if a not in addresses]
    if more:
        out["addresses"] = (addresses + more)[: fields.MAX_ADDRESSES]
    for name in ("real_name", "birthday"):
        if not getattr(survivor, name) and getattr(merged, name):
            out[name] = _plain_text(merged, name)
    return out


def merge(actor: StaffActor, customer_id: str, req: MergeRequest) -> dict[str, Any]:
    from kefu.audit import staff_change
    from kefu.storage.tx import write_transaction

    survivor, merged = _pair(actor, customer_id, req.merge_id)
    shop, sid, mid = actor.shop_id, survivor.customer_id, merged.customer_id
    shown = preview(actor, customer_id, req)
    if shown["blocked"] == "both_open":
        raise Conflict(
            "both customers have an open conversation: resolve one first", code="both_open"
        )
    if shown["blocked"] == "too_many":
        raise Conflict(f"more than {MAX_MOVE} records would move", code="merge_too_large")
    # The merged one's tags go on through the tags part (history + counters) after the merge;
    # checked first so that a merge refused for it has moved nothing.
    from kefu.tags.assign import MAX_TAGS_PER_CUSTOMER

    new_tags = [str(t) for t in dict.fromkeys(merged.tags or []) if t not in (survivor.tags or [])]
    if len(survivor.tags or []) + len(new_tags) > MAX_TAGS_PER_CUSTOMER:
        raise Conflict(
            f"together they would carry more than {MAX_TAGS_PER_CUSTOMER} tags: remove some first",
            code="tag_limit",
        )
    moved = _move_records(shop, sid, mid)
    at = now_ms()
    personal = _personal_after(survivor, merged)
    summary = _summary_after(survivor, merged)
    actions: list[Any] = [
        Customer.identities.set(
            list(dict.fromkeys([*(survivor.identities or []), *(merged.identities or [])]))
        ),
        Customer.channels.set(
            list(dict.fromkeys([*(survivor.channels or []), *(merged.channels or [])]))
        ),
        Customer.orders_count.set(summary["orders_count"]),
        Customer.total_spent.set(summary["total_spent"]),
        Customer.refunds_count.set(summary["refunds_count"]),
        Customer.summary_rev.set(int(survivor.summary_rev or 0) + 1),
        Customer.profile_rev.set(int(survivor.profile_rev or 0) + 1),
        Customer.last_contact_at.set(
            max(survivor.last_contact_at or 0, merged.last_contact_at or 0) or at
        ),
    ]
    if summary["first_purchase_at"]:
        actions += [
            Customer.first_purchase_at.set(summary["first_purchase_at"]),
            Customer.last_purchase_at.set(summary["last_purchase_at"]),
        ]
    if summary["categories"]:
        actions.append(Customer.categories.set(summary["categories"]))
    if merged.notes:
        notes = f"{survivor.notes}\n---\n{merged.notes}" if survivor.notes else merged.notes
        actions.append(Customer.notes.set(notes[:4000]))
    if merged.open_conversation_id and not survivor.open_conversation_id:
        actions.append(Customer.open_conversation_id.set(merged.open_conversation_id))
    masked = dict(survivor.masked.as_dict()) if survivor.masked is not None else {}
    for name, value in personal.items():
        plain = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        actions.append(getattr(Customer, name).set(crypto.encrypt(shop, sid, name, plain)))
    masked.update(fields.masked_forms(personal))
    if personal:
        actions.append(Customer.masked.set(masked))
    if survivor.contact and "phones" in personal:
        actions.append(Customer.contact.remove())
    new_phone_hashes = {
        crypto.lookup_hash(shop, PHONE, ph) for ph in personal.get("phones") or []
    } - {str(d) for d in survivor.phone_hashes or []}
    if "phones" in personal:
        actions.append(
            Customer.phone_hashes.set(
                cast(Any, sorted({str(d) for d in survivor.phone_hashes or []} | new_phone_hashes))
            )
        )
    name_hash = (
        crypto.lookup_hash(shop, REAL_NAME, fields.normalise_name(personal["real_name"]))
        if personal.get("real_name")
        else None
    )
    if name_hash:
        actions.append(Customer.real_name_hash.set(name_hash))

    with write_transaction() as tx:
        tx.update(
            survivor,
            actions,
            condition=(Customer.merged_into.does_not_exist())
            & (
                Customer.profile_rev.does_not_exist()
                if survivor.profile_rev is None
                else Customer.profile_rev == survivor.profile_rev
            ),
        )
        tx.update(
            merged,
            [
                Customer.merged_into.set(sid),
                Customer.open_conversation_id.remove(),
                Customer.profile_rev.set(int(merged.profile_rev or 0) + 1),
                Customer.name_key.remove(),
            ],
            condition=Customer.merged_into.does_not_exist(),
        )
        if merged.name_key:  # out of the name search
            tx.delete(CustomerName(shop, CustomerName.key(str(merged.name_key))))
        for ref in merged.identities or []:
            kind, _, external = str(ref).partition(":")
            tx.update(
                CustomerIdentity(shop, CustomerIdentity.key(kind, external)),
                [
                    CustomerIdentity.customer_id.set(sid),
                    CustomerIdentity.open_conversation_id.remove(),
                ],
                condition=CustomerIdentity.customer_id == mid,
            )
        for old in merged.phone_hashes or []:
            tx.delete(CustomerLookup(shop, CustomerLookup.key(PHONE, str(old), mid)))
        if merged.real_name_hash:
            tx.delete(
                CustomerLookup(shop, CustomerLookup.key(REAL_NAME, str(merged.real_name_hash), mid))
            )
        for digest in new_phone_hashes:
            tx.save(_lookup(shop, PHONE, digest, sid, at))
        if name_hash:
            tx.save(_lookup(shop, REAL_NAME, name_hash, sid, at))
        tx.save(
            staff_change(
                actor,
                action="customer.merged",
                target_type="customer",
                target_id=sid,
                before={"merge_id": mid},
                after={"merge_id": mid, "moved": moved, "identities": len(merged.identities or [])},
                at_ms=at,
            )
        )
    _carry_tags(actor, sid, new_tags)
    _announce(actor, sid, mid, {**moved, "identities": len(merged.identities or [])})
    return {"customer_id": sid, "merge_id": mid, "moved": moved, "merged_into": sid}


def _carry_tags(actor: StaffActor, survivor_id: str, tag_ids: list[str]) -> None:
    """The merged profile's tags onto the survivor, each with its history item (by whom) and the
    tags' counters: kefu.tags.assign, MAX_TAGS_PER_CHANGE at a time. Idempotent: a retried
    merge adds only what is still missing."""
    from kefu.tags.assign import MAX_TAGS_PER_CHANGE, add_tags

    for start in range(0, len(tag_ids), MAX_TAGS_PER_CHANGE):
        add_tags(
            actor.shop_id,
            survivor_id,
            tag_ids[start : start + MAX_TAGS_PER_CHANGE],
            actor.actor_id,
        )


def _lookup(shop: str, kind: str, digest: str, customer_id: str, at: int) -> CustomerLookup:
    return CustomerLookup(
        shop,
        CustomerLookup.key(kind, digest, customer_id),
        kind=kind,
        customer_id=customer_id,
        created_at=at,
    )


def _announce(actor: StaffActor, sid: str, mid: str, moved: dict[str, int]) -> None:
    from kefu.events import DomainEvent, publish
    from kefu.events_catalog import CustomerMerged

    publish(
        DomainEvent(
            data=CustomerMerged(customer_id=sid, merged_id=mid, actor=actor.actor_id, moved=moved),
            shop_id=actor.shop_id,
            event_id=f"customer.merged:{mid}",
        )
    )
