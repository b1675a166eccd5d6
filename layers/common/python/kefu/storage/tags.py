"""TagsTable: a shop's tag groups, tags and auto-tag rules, how many customers carry each tag,
and every customer's tag history (docs/tags.md).

pk = shop_id
  sk = "head"                    counts (groups, tags, rules) checked against the shop's limits,
                                 and `rules_revision` (+1 in every rule change's transaction: the
                                 tagging consumer's cache key for its compiled matcher)
  sk = "group#<group_id>"        a tag group (状态, 来源, 兴趣, 行为 …)
  sk = "tag#<tag_id>"            a tag: name, group, colour, description
  sk = "rule#<rule_id>"          an auto-tag rule: trigger, tags it puts on, enabled
pk = "<shop>#usage#<shard>"      sk = "tag#<tag_id>": `count`, customers carrying the tag on this
                                 shard (ADD ±1 in the transaction that changes a customer's tags;
                                 the shard is the customer's hash, so one customer always counts
                                 on one shard and a bulk job spreads over USAGE_SHARDS keys)
pk = "<shop>#cartdue#<15-min bucket>#<shard>"  sk = "<customer>#<hours>": a cart change to check
                                 when it is due (the cart_abandoned rules; TTL `expires_at`)
pk = "<shop>#history#<customer>" sk = "<13-digit ms>#<seq>#<tag_id>": one tag put on or taken off
                                 (action, source, at), written in the same transaction as the
                                 customer's `tags`. One partition per customer: no hot key, and
                                 the profile's history is one Query, newest first.

Customers' `tags` (CustomersTable) change only through `tag_change` below, so a tag and its
history item and its usage count can never disagree.
"""

from __future__ import annotations

import zlib
from typing import Any, cast

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.expressions.condition import Condition

from kefu.storage.base import KefuModel, table_name
from kefu.storage.customers import Customer
from kefu.storage.tx import WriteTransaction

TAGS_TABLE = table_name("TAGS_TABLE", "kefu-tags")
HEAD = "head"
GROUP_PREFIX = "group#"
TAG_PREFIX = "tag#"
RULE_PREFIX = "rule#"
# A bulk job tags ~100 customers a second at most (one chunk at a time): over 8 shards a usage
# counter key takes ~12 writes a second.
USAGE_SHARDS = 8
CART_BUCKET_MS = 15 * 60 * 1000
CART_SHARDS = 4


class _ShopItem(KefuModel):
    class Meta(KefuModel.Meta):
        abstract = True
        table_name = TAGS_TABLE

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)


class TagsHead(_ShopItem):
    class Meta(_ShopItem.Meta):
        abstract = False

    group_count = NumberAttribute(default=0)
    tag_count = NumberAttribute(default=0)
    rule_count = NumberAttribute(default=0)
    rules_revision = NumberAttribute(default=0)

    @staticmethod
    def key() -> str:
        return HEAD


class _Edited(_ShopItem):
    class Meta(_ShopItem.Meta):
        abstract = True

    created_at = NumberAttribute()
    created_by = UnicodeAttribute(null=True)
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute(null=True)


class TagGroup(_Edited):
    class Meta(_Edited.Meta):
        abstract = False

    group_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    position = NumberAttribute(default=0)

    @staticmethod
    def key(group_id: str) -> str:
        return f"{GROUP_PREFIX}{group_id}"

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "position": self.position}

    def to_public(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            **self.definition(),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


class Tag(_Edited):
    class Meta(_Edited.Meta):
        abstract = False

    tag_id = UnicodeAttribute()
    name = UnicodeAttribute()
    group_id = UnicodeAttribute(null=True)
    colour = UnicodeAttribute(null=True)  # "#RRGGBB"
    description = UnicodeAttribute(null=True)

    @staticmethod
    def key(tag_id: str) -> str:
        return f"{TAG_PREFIX}{tag_id}"

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group_id": self.group_id,
            "colour": self.colour,
            "description": self.description,
        }

    def to_public(self) -> dict[str, Any]:
        return {
            "tag_id": self.tag_id,
            **self.definition(),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


class AutoTagRule(_Edited):
    class Meta(_Edited.Meta):
        abstract = False

    rule_id = UnicodeAttribute()
    name = UnicodeAttribute()
    # {"kind": keyword|intent|order|order_count|refund|campaign_clicked|tier_changed|attribute,
    #  ...its conditions} (kefu.tags.rules)
    trigger = JSONAttribute()
    tag_ids = ListAttribute(of=UnicodeAttribute)
    enabled = BooleanAttribute(default=True)

    @staticmethod
    def key(rule_id: str) -> str:
        return f"{RULE_PREFIX}{rule_id}"

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trigger": self.trigger,
            "tag_ids": list(self.tag_ids or []),
            "enabled": bool(self.enabled),
        }

    def to_public(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            **self.definition(),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


class TagUsage(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = TAGS_TABLE

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    carried = NumberAttribute(default=0, attr_name="count")  # customers carrying the tag

    @staticmethod
    def shard(customer_id: str) -> int:
        return zlib.crc32(customer_id.encode()) % USAGE_SHARDS

    @staticmethod
    def keys(shop_id: str, tag_id: str) -> list[tuple[str, str]]:
        """Every shard's key of one tag's counter (BatchGetItem them and add up)."""
        return [(f"{shop_id}#usage#{n}", f"{TAG_PREFIX}{tag_id}") for n in range(USAGE_SHARDS)]

    @staticmethod
    def key(shop_id: str, customer_id: str, tag_id: str) -> tuple[str, str]:
        return f"{shop_id}#usage#{TagUsage.shard(customer_id)}", f"{TAG_PREFIX}{tag_id}"


class TagHistoryItem(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = TAGS_TABLE

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tag_id = UnicodeAttribute()
    action = UnicodeAttribute()  # added | removed
    source = UnicodeAttribute()  # staff:<username> | rule:<rule_id> | import | api | job:<id>
    at = NumberAttribute()

    @staticmethod
    def partition(shop_id: str, customer_id: str) -> str:
        return f"{shop_id}#history#{customer_id}"

    @staticmethod
    def sort_key(at_ms: int, seq: int, tag_id: str) -> str:
        return f"{at_ms:013d}#{seq:03d}#{tag_id}"

    def to_public(self) -> dict[str, Any]:
        return {"tag_id": self.tag_id, "action": self.action, "source": self.source, "at": self.at}


class CartWatch(KefuModel):
    """A customer's cart change, checked `hours` later by the tagging sweep: no order placed and
    the product not taken out of the cart since -> the cart_abandoned rules' tags. Bucketed by
    the quarter-hour it is due in, 4 shards a bucket, so a sweep reads due watches with a few
    Queries and a shop's cart changes at its peak spread over 4 keys."""

    class Meta(KefuModel.Meta):
        table_name = TAGS_TABLE

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    shop_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    product_id = UnicodeAttribute(null=True)
    hours = NumberAttribute()
    added_at = NumberAttribute()
    due_at = NumberAttribute()
    expires_at = NumberAttribute()  # epoch seconds: a watch no sweep reached is dropped

    @staticmethod
    def bucket(at_ms: int) -> int:
        return at_ms // CART_BUCKET_MS

    @staticmethod
    def partition(shop_id: str, bucket: int, shard: int) -> str:
        return f"{shop_id}#cartdue#{bucket}#{shard}"

    @staticmethod
    def shard(customer_id: str) -> int:
        return zlib.crc32(customer_id.encode()) % CART_SHARDS

    @staticmethod
    def sort_key(customer_id: str, hours: int) -> str:
        return f"{customer_id}#{hours}"


def customer_tags_condition(current: list[str]) -> Condition:
    """The customer's tags are still what the change was computed from (optimistic)."""
    if not current:
        return Customer.customer_id.exists() & (
            Customer.tags.does_not_exist() | (Customer.tags == [])
        )
    return Customer.tags == list(current)


def tag_change(
    tx: WriteTransaction,
    customer: Customer,
    *,
    added: list[str],
    removed: list[str],
    source: str,
    at: int,
) -> list[str]:
    """Write one customer's tag change into `tx`: the customer's new `tags` (conditional on the
    list the change was computed from), a history item per tag, the usage counters. Returns
    the new list. Nothing is written for an empty change (the caller skips the transaction)."""
    current = [str(t) for t in customer.tags or []]
    after = [t for t in current if t not in removed] + [t for t in added if t not in current]
    tx.update(
        customer,
        [Customer.tags.set(cast(Any, after))],
        condition=customer_tags_condition(current),
    )
    history = TagHistoryItem.partition(customer.shop_id, customer.customer_id)
    for seq, (tag_id, action) in enumerate(
        [(t, "added") for t in added] + [(t, "removed") for t in removed]
    ):
        tx.save(
            TagHistoryItem(
                history,
                TagHistoryItem.sort_key(at, seq, tag_id),
                tag_id=tag_id,
                action=action,
                source=source,
                at=at,
            )
        )
        pk, sk = TagUsage.key(customer.shop_id, customer.customer_id, tag_id)
        tx.update(TagUsage(pk, sk), [TagUsage.carried.add(1 if action == "added" else -1)])
    return after
