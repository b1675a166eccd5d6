"""CustomersTable: customers and the channel identities that point at them.

pk = shop_id
sk = "CUSTOMER#<customer_id>"               the customer's profile; holds open_conversation_id,
                                            the authority on "one open conversation per customer"
sk = "IDENTITY#<kind>#<external id>"         wechat_openid / wechat_unionid / app_user -> customer;
                                            unique by construction (conditional put), so one person
                                            on two channels (same unionid) is one customer
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from kefu.storage.base import KefuModel, table_name

CUSTOMER_PREFIX = "CUSTOMER#"
IDENTITY_PREFIX = "IDENTITY#"


class Customer(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("CUSTOMERS_TABLE", "kefu-customers")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    display_name = UnicodeAttribute(null=True)
    avatar_url = UnicodeAttribute(null=True)
    tier = UnicodeAttribute(default="regular")
    # The agent who last served this customer (set on resolve): 熟客优先 routes them back.
    last_agent = UnicodeAttribute(null=True)
    identities = ListAttribute(of=UnicodeAttribute, default=list)
    # CRM fields shown beside a conversation (workbench). `contact` is the phone number: shown
    # masked unless the role has customers.contact.read.
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    notes = UnicodeAttribute(null=True)
    contact = UnicodeAttribute(null=True)
    open_conversation_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    last_seen_at = NumberAttribute(null=True)
    # The purchase summary: written by the profiles part in the transaction that applies a shop
    # event (docs/data-model.md); read here by kefu.tiers. Money in cents, times in ms.
    orders_count = NumberAttribute(null=True)
    total_spent = NumberAttribute(null=True)
    last_purchase_at = NumberAttribute(null=True)
    # Tiers (kefu.tiers, docs/tiers.md): `tier` above is the tier id; `rfm` {r, f, m} the
    # scores 1-5 it came from (absent: no purchase yet); `tier_change` the last change
    # {event_id, cause, from, to, at}, re-announced when its cause is redelivered; points and
    # member level when the shop uses them. Written only through kefu.storage.tiers.
    rfm = MapAttribute(null=True)  # type: ignore[var-annotated]
    tier_changed_at = NumberAttribute(null=True)
    tier_change = JSONAttribute(null=True)
    points = NumberAttribute(null=True)
    member_level = UnicodeAttribute(null=True)
    # Dense per-shop customer number, set once by the segment index maintainer (kefu.segments):
    # the customer's bit in every segment bitmap.
    number = NumberAttribute(null=True)

    @staticmethod
    def key(customer_id: str) -> str:
        return f"{CUSTOMER_PREFIX}{customer_id}"


class CustomerIdentity(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("CUSTOMERS_TABLE", "kefu-customers")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    external_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    # A hint, validated by the conditional write that uses it: lets a known customer's message
    # be stored with one read (this item) instead of two (this item, then the customer).
    open_conversation_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()

    @staticmethod
    def key(kind: str, external_id: str) -> str:
        return f"{IDENTITY_PREFIX}{kind}#{external_id}"
