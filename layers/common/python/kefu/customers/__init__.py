"""Customers and their channel identities.

One person is one customer per shop: identities (WeChat openid, WeChat unionid, the shop's own
app/H5 user id) are unique items pointing at a customer, created with conditional writes, so two
concurrent first messages cannot create two customers, and a WeChat user who shares a unionid
with an existing identity joins that customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError

from kefu.ids import new_id, now_ms
from kefu.storage.customers import Customer, CustomerIdentity, CustomerName, make_name_key
from kefu.storage.tx import condition_failed, write_transaction

WECHAT_OPENID = "wechat_openid"
WECHAT_UNIONID = "wechat_unionid"
APP_USER = "app_user"
PHONE_HASH = "phone_hash"  # the keyed hash of a phone the shop's server vouched for
# The channel a customer first came through, by the kind of their first identity.
_CHANNEL = {WECHAT_OPENID: "wechat", WECHAT_UNIONID: "wechat", APP_USER: "app", PHONE_HASH: "app"}


@dataclass(frozen=True)
class Identity:
    kind: str
    external_id: str

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.external_id}"


def find_identity(shop_id: str, identity: Identity) -> CustomerIdentity | None:
    try:
        return CustomerIdentity.get(
            shop_id, CustomerIdentity.key(identity.kind, identity.external_id), consistent_read=True
        )
    except CustomerIdentity.DoesNotExist:
        return None


def resolve_customer(
    shop_id: str,
    identity: Identity,
    *,
    also: Identity | None = None,
    display_name: str | None = None,
) -> CustomerIdentity:
    """The identity item for `identity`, creating the customer on first contact.

    `also` is a second identity of the same person (the WeChat unionid): when it already points
    at a customer, `identity` joins that customer instead of creating a new one.
    """
    found = find_identity(shop_id, identity)
    if found is not None:
        return found
    for _ in range(3):  # lose a race at most twice, then the winner's item is there
        linked = find_identity(shop_id, also) if also else None
        try:
            if linked is not None:
                return _link_identity(shop_id, identity, linked.customer_id)
            return _create_customer(shop_id, identity, also, display_name)
        except TransactWriteError as exc:
            if not any(condition_failed(exc, i) for i in range(3)):
                raise
        found = find_identity(shop_id, identity)
        if found is not None:
            return found
    raise RuntimeError("could not resolve customer identity after concurrent updates")


def _identity_item(shop_id: str, identity: Identity, customer_id: str, at: int) -> CustomerIdentity:
    return CustomerIdentity(
        shop_id,
        CustomerIdentity.key(identity.kind, identity.external_id),
        kind=identity.kind,
        external_id=identity.external_id,
        customer_id=customer_id,
        created_at=at,
    )


def _create_customer(
    shop_id: str, identity: Identity, also: Identity | None, display_name: str | None
) -> CustomerIdentity:
    at = now_ms()
    customer_id = new_id("cu", at)
    refs = [identity.ref] + ([also.ref] if also else [])
    item = _identity_item(shop_id, identity, customer_id, at)
    name_key = make_name_key(display_name, customer_id)
    with write_transaction() as tx:
        tx.save(item, condition=CustomerIdentity.sk.does_not_exist())
        if also:
            tx.save(
                _identity_item(shop_id, also, customer_id, at),
                condition=CustomerIdentity.sk.does_not_exist(),
            )
        tx.save(
            Customer(
                shop_id,
                Customer.key(customer_id),
                customer_id=customer_id,
                display_name=display_name,
                identities=refs,
                created_at=at,
                # First contact is a contact: the default list (by_last_contact) shows them.
                last_contact_at=at,
                name_key=name_key,
                channels=[_CHANNEL[identity.kind]],
                lifecycle_stage="prospect",  # 潜在客户 until an order is paid (customers.summary)
            ),
            condition=Customer.sk.does_not_exist(),
        )
        if name_key:  # found by name (kefu.customers.search)
            tx.save(CustomerName(shop_id, CustomerName.key(name_key), customer_id=customer_id))
    return item


def _link_identity(shop_id: str, identity: Identity, customer_id: str) -> CustomerIdentity:
    at = now_ms()
    item = _identity_item(shop_id, identity, customer_id, at)
    with write_transaction() as tx:
        tx.save(item, condition=CustomerIdentity.sk.does_not_exist())
        tx.update(
            Customer(shop_id, Customer.key(customer_id)),
            [Customer.identities.set(Customer.identities.append([identity.ref]))],
            condition=Customer.sk.exists(),
        )
    return item


def link_identities(shop_id: str, customer_id: str, identities: list[Identity]) -> list[str]:
    """Point each identity at the customer unless it is already someone's. Returns the kinds
    that belong to another customer: those two profiles are left apart (staff may merge them
    after a preview, kefu.customers.merge), never joined on the caller's say-so alone."""
    unlinked = []
    for identity in identities:
        found = find_identity(shop_id, identity)
        if found is not None:
            if found.customer_id != customer_id:
                unlinked.append(identity.kind)
            continue
        try:
            _link_identity(shop_id, identity, customer_id)
        except TransactWriteError as exc:
            if not condition_failed(exc, 0):
                raise
            raced = find_identity(shop_id, identity)
            if raced is not None and raced.customer_id != customer_id:
                unlinked.append(identity.kind)
    return unlinked


def get_customer(shop_id: str, customer_id: str) -> Customer | None:
    try:
        return Customer.get(shop_id, Customer.key(customer_id), consistent_read=True)
    except Customer.DoesNotExist:
        return None


def public_profile(customer: Customer) -> dict:
    return {
        "customer_id": customer.customer_id,
        "display_name": customer.display_name,
        "avatar_url": customer.avatar_url,
        "tier": customer.tier,
        "identities": list(customer.identities or []),
        "created_at": customer.created_at,
        "last_seen_at": customer.last_seen_at,
    }
