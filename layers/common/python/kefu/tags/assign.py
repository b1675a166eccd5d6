"""Putting tags on a customer and taking them off (docs/tags.md): by staff on one customer, by an
auto-tag rule, by a bulk job, by an import or the shop's API.

Each change is one TransactWriteItems: the customer's `tags` (conditional on the list it was
computed from), one history item per tag with who or what did it and when, the tags' usage
counters. A change that changes nothing (the tag is already there, or already gone) writes
nothing, so replaying an event or a job's chunk is harmless: every caller is idempotent by
construction. After the write, `customer.tagged` / `customer.untagged` are published.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pynamodb.exceptions import TransactWriteError

from kefu import events_catalog as c
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.events import DomainEvent, publish
from kefu.ids import now_ms
from kefu.storage.audit import AuditRecord
from kefu.storage.customers import Customer
from kefu.storage.tags import TagHistoryItem, tag_change
from kefu.storage.tx import condition_failed, write_transaction

MAX_TAGS_PER_CUSTOMER = 100
MAX_TAGS_PER_CHANGE = 20  # 2 actions per tag + the customer: within one transaction's 100
SOURCE = re.compile(r"^(staff:[A-Za-z0-9_.@:-]{1,128}|rule:[A-Za-z0-9_-]{1,64}|import|api)$")
_ATTEMPTS = 3
CUSTOMER_ID = re.compile(r"^[\w.:-]{1,128}$")


@dataclass
class TagChange:
    """What one call changed on one customer."""

    customer_id: str
    tags: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    at: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def to_public(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "tags": self.tags,
            "added": self.added,
            "removed": self.removed,
        }


def check_source(source: str) -> None:
    if not SOURCE.match(source):
        raise BadRequest(
            "source must be staff:<username>, rule:<rule_id>, import or api", code="invalid_source"
        )


def check_ids(tag_ids: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(tag_ids))
    if not unique:
        raise BadRequest("name at least one tag", code="validation_error")
    if len(unique) > MAX_TAGS_PER_CHANGE:
        raise BadRequest(
            f"at most {MAX_TAGS_PER_CHANGE} tags in one change", code="validation_error"
        )
    return unique


def load_customer(shop_id: str, customer_id: str) -> Customer:
    """The customer (404 customer_not_found when there is none)."""
    if not CUSTOMER_ID.match(customer_id):  # not an id kefu gives: no such customer
        raise NotFound(f"no customer {customer_id[:64]!r}", code="customer_not_found")
    return Customer.get_or_404(
        shop_id,
        Customer.key(customer_id),
        message=f"no customer {customer_id!r}",
        code="customer_not_found",
        consistent_read=True,
    )


def apply(
    customer: Customer,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    source: str,
    announce: bool = True,
    audit: Callable[[TagChange, int], AuditRecord] | None = None,
) -> TagChange:
    """Change one customer's tags from a customer item already read (a job reads a chunk's
    customers with one BatchGetItem). Retries when the tags changed meanwhile; raises
    BadRequest(tag_limit) when the customer would carry more than MAX_TAGS_PER_CUSTOMER.
    `audit`: builds the staff change's audit record, written in the same transaction."""
    add, remove = list(add), list(remove)
    for attempt in range(_ATTEMPTS):
        current = [str(t) for t in customer.tags or []]
        added = [t for t in dict.fromkeys(add) if t not in current]
        removed = [t for t in dict.fromkeys(remove) if t in current and t not in add]
        change = TagChange(customer.customer_id, current, added, removed)
        if not change.changed:
            return change
        if len(current) + len(added) - len(removed) > MAX_TAGS_PER_CUSTOMER:
            raise BadRequest(
                f"a customer may carry at most {MAX_TAGS_PER_CUSTOMER} tags", code="tag_limit"
            )
        at = now_ms()
        try:
            with write_transaction() as tx:
                after = tag_change(tx, customer, added=added, removed=removed, source=source, at=at)
                if audit is not None:
                    tx.save(audit(change, at))
        except TransactWriteError as exc:
            if condition_failed(exc, tx.update_index(0)) and attempt < _ATTEMPTS - 1:
                customer = load_customer(customer.shop_id, customer.customer_id)
                continue
            if condition_failed(exc, tx.update_index(0)):
                raise Conflict(
                    "the customer's tags kept changing meanwhile: try again", code="stale"
                ) from None
            raise
        change.tags, change.at = after, at
        if announce:
            publish(*change_events(customer.shop_id, [change], source))
        return change
    raise AssertionError("unreachable")  # pragma: no cover


def change_events(shop_id: str, changes: list[TagChange], source: str) -> list[DomainEvent]:
    """customer.tagged / customer.untagged for changes that changed something. Event id
    `customer.<tagged|untagged>:<customer>:<ms>`: one per change."""
    out = []
    for ch in changes:
        if ch.added:
            out.append(
                DomainEvent(
                    c.CustomerTagged(customer_id=ch.customer_id, tag_ids=ch.added, source=source),
                    shop_id,
                    f"customer.tagged:{ch.customer_id}:{ch.at}",
                )
            )
        if ch.removed:
            out.append(
                DomainEvent(
                    c.CustomerUntagged(
                        customer_id=ch.customer_id, tag_ids=ch.removed, source=source
                    ),
                    shop_id,
                    f"customer.untagged:{ch.customer_id}:{ch.at}",
                )
            )
    return out


def add_tags(shop_id: str, customer_id: str, tag_ids: Iterable[str], source: str) -> TagChange:
    """Put tags on one customer (those it has already are left as they are). The caller has
    checked that the tags exist in the shop (kefu.tags.catalog.require_tags)."""
    check_source(source)
    return apply(load_customer(shop_id, customer_id), add=check_ids(tag_ids), source=source)


def remove_tags(shop_id: str, customer_id: str, tag_ids: Iterable[str], source: str) -> TagChange:
    """Take tags off one customer (those it does not carry are ignored)."""
    check_source(source)
    return apply(load_customer(shop_id, customer_id), remove=check_ids(tag_ids), source=source)


def history(
    shop_id: str, customer_id: str, *, limit: int = 50, cursor: dict | None = None
) -> tuple[list[dict], dict | None]:
    """The customer's tag history, newest first: (items, the next page's key)."""
    results = TagHistoryItem.query(
        TagHistoryItem.partition(shop_id, customer_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=cursor,
    )
    items = [h.to_public() for h in results]
    return items, results.last_evaluated_key
