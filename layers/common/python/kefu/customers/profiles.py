"""Customer profiles as staff read and edit them: GET/PATCH /v1/customers/{id}.

Personal fields (real name, phones, addresses, birthday) are stored only as envelopes
(kefu.customers.crypto) beside their masked forms: a masked answer decrypts nothing; an
unmasked one (`reveal`, for roles with customers.contact.read) is put on the audit trail before
it is built. A phone number and a real name are found by their keyed hashes (LOOKUP items),
written in the same transaction as the profile.
"""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers import crypto, fields
from kefu.customers.attributes import apply_values, shown
from kefu.errors import BadRequest, Conflict
from kefu.ids import now_ms
from kefu.storage.customers import Customer, CustomerLookup, CustomerName, make_name_key
from kefu.storage.tx import condition_failed, write_transaction

PHONE = "phone"
REAL_NAME = "real_name"


# ----------------------------------------------------------------------------- reading


def load(shop_id: str, customer_id: str) -> Customer:
    return Customer.get_or_404(
        shop_id,
        Customer.key(customer_id),
        message=f"no customer {customer_id!r}",
        code="customer_not_found",
        consistent_read=True,
    )


def _masked(customer: Customer) -> dict[str, Any]:
    masked = dict(customer.masked.as_dict()) if customer.masked is not None else {}
    if customer.contact and not customer.phones:  # legacy plaintext number, not yet moved
        masked["phones"] = [fields.mask_phone(customer.contact)]
    return masked


def decrypted(customer: Customer) -> dict[str, Any]:
    """The personal fields decrypted (only for a caller who may see them, after the audit)."""
    shop, cid = customer.shop_id, customer.customer_id
    out: dict[str, Any] = {
        "real_name": None,
        "phones": [],
        "addresses": [],
        "birthday": None,
    }
    if customer.real_name:
        out["real_name"] = crypto.decrypt(shop, cid, "real_name", customer.real_name)
    if customer.phones:
        out["phones"] = json.loads(crypto.decrypt(shop, cid, "phones", customer.phones))
    elif customer.contact:
        out["phones"] = [customer.contact]
    if customer.addresses:
        out["addresses"] = json.loads(crypto.decrypt(shop, cid, "addresses", customer.addresses))
    if customer.birthday:
        out["birthday"] = crypto.decrypt(shop, cid, "birthday", customer.birthday)
    return out


def first_phone(customer: Customer) -> str | None:
    """The first phone in plaintext (decrypted): for a caller allowed to see it, after the audit."""
    if customer.phones:
        phones = json.loads(
            crypto.decrypt(customer.shop_id, customer.customer_id, "phones", customer.phones)
        )
        return phones[0] if phones else None
    return customer.contact


def has_personal(customer: Customer) -> bool:
    return any(getattr(customer, f) for f in fields.PERSONAL_FIELDS) or bool(customer.contact)


def purchase_summary(customer: Customer) -> dict[str, Any]:
    count = int(customer.orders_count or 0)
    spent = int(customer.total_spent or 0)
    return {
        "orders_count": count,
        "total_spent": spent,
        "avg_order_value": spent // count if count else 0,
        "refunds_count": int(customer.refunds_count or 0),
        "first_purchase_at": customer.first_purchase_at,
        "last_purchase_at": customer.last_purchase_at,
        "categories": list(customer.categories or []),
    }


def stage(customer: Customer) -> str:
    if customer.lifecycle_override and customer.lifecycle_stage:
        return customer.lifecycle_stage
    last_purchase, last_refund = customer.last_purchase_at, customer.last_refund_at
    return fields.derived_stage(
        int(customer.orders_count or 0),
        int(last_purchase) if last_purchase else None,
        int(last_refund) if last_refund else None,
    )


def view(
    customer: Customer,
    *,
    plain: dict[str, Any] | None,
    attribute_defs: dict | None = None,
    with_attributes: bool = True,
) -> dict:
    """The profile; personal fields masked unless `plain` (their decrypted values) is given."""
    personal = plain if plain is not None else _masked(customer)
    phones = list(personal.get("phones") or [])
    return {
        "customer_id": customer.customer_id,
        "display_name": customer.display_name,
        "avatar_url": customer.avatar_url,
        "real_name": personal.get("real_name"),
        "phones": phones,
        # The first phone, as the workbench has always shown it.
        "contact": phones[0] if phones else None,
        "addresses": list(personal.get("addresses") or []),
        "birthday": personal.get("birthday"),
        "personal_masked": plain is None and has_personal(customer),
        "gender": customer.gender,
        "region": customer.region,
        "source_channel": customer.source_channel,
        "source_campaign": customer.source_campaign,
        "channels": list(customer.channels or []),
        "identities": list(customer.identities or []),
        "lifecycle_stage": stage(customer),
        "lifecycle_override": bool(customer.lifecycle_override),
        "remarks": customer.remarks,
        "notes": customer.notes,
        "owner_agent": customer.owner_agent,
        "tier": customer.tier,
        "tags": list(customer.tags or []),
        # The shop's definitions hide deleted attributes: one Query, skipped where a request
        # budget counts (the workbench's context call does not show attributes).
        "attributes": shown(
            customer.shop_id,
            customer.attributes.as_dict() if customer.attributes is not None else None,
            attribute_defs,
        )
        if with_attributes
        else {},
        "purchase_summary": purchase_summary(customer),
        "created_at": customer.created_at,
        "last_seen_at": customer.last_seen_at,
        "last_contact_at": customer.last_contact_at,
        "merged_into": customer.merged_into,
        "erased_at": customer.erased_at,
    }


def reveal_for(
    actor: StaffActor, customer: Customer, *, reveal: bool, request_id: str | None
) -> dict | None:
    """The decrypted personal fields when asked for and allowed — on record first — else None."""
    if not reveal:
        return None
    p.require(actor, p.CUSTOMERS_CONTACT_READ)
    if not has_personal(customer):
        return None
    from kefu.audit import record_access

    record_access(
        actor,
        action="customer.personal_viewed",
        target_type="customer",
        target_id=customer.customer_id,
        details={"fields": [f for f in fields.PERSONAL_FIELDS if getattr(customer, f)]},
        request_id=request_id,
    )
    return decrypted(customer)


def get_profile(
    shop_id: str,
    customer_id: str,
    actor: StaffActor,
    *,
    reveal: bool = False,
    request_id: str | None = None,
) -> dict[str, Any]:
    """GET /v1/customers/{id}: the profile (masked unless `reveal`), its recent browsing and cart
    activity and its recent orders with their whole logistics trail."""
    p.require(actor, p.CUSTOMERS_READ)
    customer = load(shop_id, customer_id)
    plain = reveal_for(actor, customer, reveal=reveal, request_id=request_id)
    from kefu.orders import recent_activity, recent_orders_with_trail

    return {
        **view(customer, plain=plain),
        "recent_orders": recent_orders_with_trail(shop_id, customer_id, 10),
        "recent_activity": recent_activity(shop_id, customer_id, 20),
    }


# ----------------------------------------------------------------------------- editing


def _owner_agent(shop_id: str, username: str) -> str:
    from kefu.storage.shops import StaffMember

    try:
        member = StaffMember.get(shop_id, StaffMember.key(username))
    except StaffMember.DoesNotExist:
        member = None
    if member is None or member.status != "active" or member.role not in p.ROLES:
        raise BadRequest(
            f"owner_agent {username!r} is not an active staff member of this shop",
            code="unknown_owner_agent",
        )
    return username


def _personal_values(change: dict[str, Any]) -> dict[str, Any]:
    """The personal fields of a change, validated and normalised (None: cleared)."""
    out: dict[str, Any] = {}
    if "real_name" in change:
        name = change["real_name"]
        out["real_name"] = " ".join(name.split()) if name else None
    if "phones" in change:
        phones: list[str] = []
        for raw in change["phones"] or []:
            phone = fields.normalise_phone(raw)
            if phone not in phones:
                phones.append(phone)
        out["phones"] = phones or None
    if "addresses" in change:
        addresses = [
            {k: v for k, v in msgspec.to_builtins(a).items() if v is not None}
            for a in change["addresses"] or []
        ]
        for a in addresses:
            if a.get("phone"):
                a["phone"] = fields.normalise_phone(a["phone"])
        out["addresses"] = addresses or None
    if "birthday" in change:
        out["birthday"] = (
            fields.normalise_birthday(change["birthday"]) if change["birthday"] else None
        )
    return out


def _lookup_digests(shop_id: str, personal: dict[str, Any]) -> dict[str, set[str]]:
    digests: dict[str, set[str]] = {}
    if "phones" in personal:
        digests[PHONE] = {crypto.lookup_hash(shop_id, PHONE, ph) for ph in personal["phones"] or []}
    if "real_name" in personal:
        name = personal["real_name"]
        digests[REAL_NAME] = (
            {crypto.lookup_hash(shop_id, REAL_NAME, fields.normalise_name(name))} if name else set()
        )
    return digests


def update_profile(
    actor: StaffActor, customer_id: str, change: fields.ProfileChange, *, audited: bool = True
) -> dict[str, Any]:
    """PATCH /v1/customers/{id}: everything validated before anything is written; then one
    transaction: the customer (guarded by its profile revision), its lookup items, the audit
    record (masked values only). Then `customer.updated` (field names only)."""
    p.require(actor, p.CUSTOMERS_WRITE)
    given = change.given()
    if not given:
        raise BadRequest("nothing to change: send at least one field", code="empty_change")
    shop = actor.shop_id
    customer = load(shop, customer_id)
    if customer.erased_at:
        raise Conflict("this customer was erased", code="customer_erased")
    if customer.merged_into:
        raise Conflict(
            f"this profile was merged into {customer.merged_into}; edit that one",
            code="customer_merged",
            details={"merged_into": customer.merged_into},
        )
    personal = _personal_values(given)
    if customer.contact and not customer.phones and "phones" not in personal:
        # The legacy plaintext number moves into the encrypted list with this edit.
        personal["phones"] = [fields.normalise_phone(customer.contact)]
    if given.get("owner_agent"):
        _owner_agent(shop, given["owner_agent"])
    attributes = None
    if "attributes" in given:
        current = customer.attributes.as_dict() if customer.attributes is not None else {}
        attributes = apply_values(shop, current, given["attributes"])

    at = now_ms()
    rev = int(customer.profile_rev or 0)
    actions: list[Any] = [Customer.profile_rev.set(rev + 1)]
    before_masked = _masked(customer)
    masked = {**before_masked}
    for name, value in personal.items():
        attr = getattr(Customer, name)
        if value is None:
            actions.append(attr.remove())
        else:
            plain = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            actions.append(attr.set(crypto.encrypt(shop, customer_id, name, plain)))
    masked.update(fields.masked_forms(personal))
    masked = {k: v for k, v in masked.items() if v not in (None, [])}
    if personal:
        actions.append(Customer.masked.set(masked) if masked else Customer.masked.remove())
    if customer.contact:
        actions.append(Customer.contact.remove())
    plain_fields = (
        "display_name",
        "gender",
        "region",
        "source_channel",
        "source_campaign",
        "channels",
        "remarks",
        "owner_agent",
    )
    for name in plain_fields:
        if name in given:
            value = given[name]
            attr = getattr(Customer, name)
            actions.append(attr.remove() if value in (None, []) else attr.set(value))
    new_name_key: str | None = customer.name_key
    if "display_name" in given:
        new_name_key = make_name_key(given["display_name"], customer_id)
        actions.append(
            Customer.name_key.set(new_name_key) if new_name_key else Customer.name_key.remove()
        )
    if "lifecycle_stage" in given:
        if given["lifecycle_stage"] is None:
            actions.append(Customer.lifecycle_override.remove())
            actions.append(Customer.lifecycle_stage.remove())
        else:
            actions.append(Customer.lifecycle_override.set(True))
            actions.append(Customer.lifecycle_stage.set(given["lifecycle_stage"]))
    if attributes is not None:
        actions.append(
            Customer.attributes.set(attributes) if attributes else Customer.attributes.remove()
        )

    digests = _lookup_digests(shop, personal)
    old = _old_digests(customer)
    changed = sorted(set(given) | set(personal))
    from kefu.audit import staff_change

    audit = staff_change(
        actor,
        action="customer.updated",
        target_type="customer",
        target_id=customer_id,
        before=_audit_view(customer, before_masked, changed),
        after={
            **{k: _safe(k, given.get(k)) for k in changed},
            **{k: masked.get(k) for k in personal},
        },
        at_ms=at,
    )
    try:
        with write_transaction() as tx:
            tx.update(
                customer,
                actions + _digest_actions(digests),
                condition=Customer.sk.exists()
                & (
                    Customer.profile_rev.does_not_exist()
                    if rev == 0
                    else Customer.profile_rev == rev
                ),
            )
            for kind, new in digests.items():
                for digest in new - old.get(kind, set()):
                    tx.save(
                        CustomerLookup(
                            shop,
                            CustomerLookup.key(kind, digest, customer_id),
                            kind=kind,
                            customer_id=customer_id,
                            created_at=at,
                        )
                    )
                for digest in old.get(kind, set()) - new:
                    tx.delete(CustomerLookup(shop, CustomerLookup.key(kind, digest, customer_id)))
            if new_name_key != customer.name_key:  # the NAME item follows the display name
                if customer.name_key:
                    tx.delete(CustomerName(shop, CustomerName.key(customer.name_key)))
                if new_name_key:
                    tx.save(
                        CustomerName(shop, CustomerName.key(new_name_key), customer_id=customer_id)
                    )
            if audited:  # an import job is audited once, for the whole file
                tx.save(audit)
    except TransactWriteError as exc:
        if any(condition_failed(exc, i) for i in range(len(exc.cancellation_reasons or []))):
            raise Conflict(
                "the profile changed while this edit was made; read it again and retry",
                code="profile_changed",
            ) from None
        raise
    updated = load(shop, customer_id)
    moved_attributes = None
    if attributes is not None:  # the custom attributes whose value changed (removed: None)
        current = customer.attributes.as_dict() if customer.attributes is not None else {}
        moved_attributes = {
            k: attributes.get(k)
            for k in set(current) | set(attributes)
            if current.get(k) != attributes.get(k)
        }
    _announce(actor, updated, changed, rev + 1, attributes=moved_attributes)
    return view(updated, plain=None)


def _digest_actions(digests: dict[str, set[str]]) -> list[Any]:
    """The keyed hashes the customer carries, so the next edit knows which lookups to drop."""
    out: list[Any] = []
    if PHONE in digests:
        out.append(
            Customer.phone_hashes.set(cast(Any, sorted(digests[PHONE])))
            if digests[PHONE]
            else Customer.phone_hashes.remove()
        )
    if REAL_NAME in digests:
        out.append(
            Customer.real_name_hash.set(next(iter(digests[REAL_NAME])))
            if digests[REAL_NAME]
            else Customer.real_name_hash.remove()
        )
    return out


def _old_digests(customer: Customer) -> dict[str, set[str]]:
    return {
        PHONE: {str(d) for d in customer.phone_hashes or []},
        REAL_NAME: {customer.real_name_hash} if customer.real_name_hash else set(),
    }


def _safe(name: str, value: Any) -> Any:
    """A value for the audit record: personal fields only masked (they are added separately)."""
    if name in fields.PERSONAL_FIELDS:
        return None
    return msgspec.to_builtins(value)


def _audit_view(customer: Customer, masked: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in changed:
        if name in fields.PERSONAL_FIELDS:
            out[name] = masked.get(name)
        elif name == "attributes":
            out[name] = customer.attributes.as_dict() if customer.attributes is not None else None
        elif name == "lifecycle_stage":
            out[name] = stage(customer)
        else:
            value = getattr(customer, name, None)
            out[name] = list(value) if isinstance(value, list) else value
    return out


def _announce(
    actor: StaffActor,
    customer: Customer,
    changed: list[str],
    rev: int,
    *,
    attributes: dict[str, Any] | None = None,
) -> None:
    from kefu.events import DomainEvent, publish
    from kefu.events_catalog import CustomerUpdated

    publish(
        DomainEvent(
            data=CustomerUpdated(
                customer_id=customer.customer_id,
                fields=changed,
                actor=actor.actor_id,
                lifecycle_stage=stage(customer),
                owner_agent=customer.owner_agent,
                attributes=attributes or None,
            ),
            shop_id=customer.shop_id,
            event_id=f"customer.updated:{customer.customer_id}:{rev}",
        )
    )
