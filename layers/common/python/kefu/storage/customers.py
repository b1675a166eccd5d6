"""CustomersTable: customers and the channel identities that point at them.

pk = shop_id
sk = "CUSTOMER#<customer_id>"               the customer's profile; holds open_conversation_id,
                                            the authority on "one open conversation per customer"
sk = "IDENTITY#<kind>#<external id>"         wechat_openid / wechat_unionid / app_user -> customer;
                                            unique by construction (conditional put), so one person
                                            on two channels (same unionid) is one customer
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

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
