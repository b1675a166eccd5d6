"""Bringing customers created before the profiles release up to date (docs/customers.md,
"Upgrading"): they lack `last_contact_at`, so the default list (GSI by_last_contact, sparse)
leaves them out, and their NAME item, so search by nickname does not find them.

One paginated Query of the shop's CUSTOMER# items (never a Scan); for each customer that needs it,
one conditional write: `last_contact_at` set to when kefu last saw them (`last_seen_at`, else
`created_at`) only if it is still absent, and the NAME item put with `name_key` in one
transaction only if the customer still has none. Running it again, or while the shop is live,
changes nothing already set. Merged and erased profiles are left alone (they stay out of lists).
The segment index follows from the customers stream (last contact is one of its values).

    python -m kefu.customers.backfill SHOP [SHOP ...]
"""

from __future__ import annotations

import sys
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError

from kefu.storage.customers import CUSTOMER_PREFIX, Customer, CustomerName, make_name_key
from kefu.storage.tx import condition_failed, write_transaction


def _last_contact(customer: Customer) -> bool:
    if customer.last_contact_at is not None:
        return False
    at = int(customer.last_seen_at or customer.created_at)
    try:
        customer.update(
            actions=[Customer.last_contact_at.set(at)],
            condition=Customer.sk.exists() & Customer.last_contact_at.does_not_exist(),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False  # set meanwhile (a conversation opened): that value is the right one
        raise
    return True


def _name(customer: Customer) -> bool:
    name_key = make_name_key(customer.display_name, customer.customer_id)
    if customer.name_key or name_key is None:
        return False
    try:
        with write_transaction() as tx:
            tx.update(
                customer,
                [Customer.name_key.set(name_key)],
                condition=Customer.sk.exists() & Customer.name_key.does_not_exist(),
            )
            tx.save(
                CustomerName(
                    customer.shop_id, CustomerName.key(name_key), customer_id=customer.customer_id
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, tx.update_index(0)):
            return False  # renamed meanwhile: the profile edit wrote its own NAME item
        raise
    return True


def backfill(shop_id: str) -> dict[str, Any]:
    """Set what is missing on the shop's customers; returns the counts."""
    out = {"customers": 0, "last_contact_at": 0, "name_items": 0}
    for customer in Customer.query(shop_id, Customer.sk.startswith(CUSTOMER_PREFIX)):
        out["customers"] += 1
        if customer.merged_into or customer.erased_at:
            continue
        out["last_contact_at"] += _last_contact(customer)
        out["name_items"] += _name(customer)
    return out


if __name__ == "__main__":  # pragma: no cover - operator's entry point
    if len(sys.argv) < 2:
        sys.exit("usage: python -m kefu.customers.backfill SHOP [SHOP ...]")
    for shop in sys.argv[1:]:
        print(shop, backfill(shop))
