"""CustomersTable: customers and the channel identities that point at them.

pk = shop_id
sk = "CUSTOMER#<customer_id>"               the customer's profile; holds open_conversation_id,
                                            the authority on "one open conversation per customer"
sk = "IDENTITY#<kind>#<external id>"         wechat_openid / wechat_unionid / app_user -> customer;
                                            unique by construction (conditional put), so one person
                                            on two channels (same unionid) is one customer
sk = "LOOKUP#<kind>#<keyed hash>#<customer>" a phone number or real name found by its HMAC
                                            (kefu.customers.crypto.lookup_hash), never in plaintext
sk = "ATTRDEF#<attribute_id>"                a shop's custom customer attribute (its type, options)
sk = "NAME#<lower-cased display name>#<customer_id>"  search by display name / nickname prefix

GSI by_last_contact  pk, last_contact_at (customers only): the default list, newest first
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from kefu.storage.base import KefuModel, table_name

CUSTOMER_PREFIX = "CUSTOMER#"
IDENTITY_PREFIX = "IDENTITY#"
LOOKUP_PREFIX = "LOOKUP#"
ATTRDEF_PREFIX = "ATTRDEF#"
NAME_PREFIX = "NAME#"
NAME_KEY_MAX = 64  # characters of the display name kept in the index key


class _ByLastContact(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_last_contact"
        projection = AllProjection()

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    last_contact_at = NumberAttribute(range_key=True)


def make_name_key(display_name: str | None, customer_id: str) -> str | None:
    """A NAME item's key part: the display name (a WeChat nickname, never a personal field),
    lower-cased, then the customer, so equal names stay distinct items."""
    if not display_name or not display_name.strip():
        return None
    return f"{display_name.strip().lower()[:NAME_KEY_MAX]}#{customer_id}"


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
    # (legacy: a plaintext phone; kefu.customers.profiles moves it into `phones` on the next edit)
    contact = UnicodeAttribute(null=True)
    open_conversation_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    last_seen_at = NumberAttribute(null=True)
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

    # --- the profile (docs/customers.md; names shared with the tags, tiers and segments parts)
    # Personal fields: envelopes of kefu.customers.crypto (ciphertext only), and their masked
    # forms (138****5678, 张*) so that a masked answer needs no decryption.
    real_name = UnicodeAttribute(null=True)
    phones = UnicodeAttribute(null=True)  # the envelope of a JSON list
    addresses = UnicodeAttribute(null=True)  # the envelope of a JSON list
    birthday = UnicodeAttribute(null=True)
    masked = MapAttribute(null=True)  # type: ignore[var-annotated]
    # The keyed hashes of the phones and real name (their LOOKUP items), so that an edit knows
    # which lookups to drop without decrypting the old values.
    phone_hashes = ListAttribute(of=UnicodeAttribute, null=True)
    real_name_hash = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    region = UnicodeAttribute(null=True)
    source_channel = UnicodeAttribute(null=True)
    source_campaign = UnicodeAttribute(null=True)
    channels = ListAttribute(of=UnicodeAttribute, null=True)
    lifecycle_stage = UnicodeAttribute(null=True)
    lifecycle_override = BooleanAttribute(null=True)
    remarks = UnicodeAttribute(null=True)
    owner_agent = UnicodeAttribute(null=True)
    attributes = MapAttribute(null=True)  # type: ignore[var-annotated]
    last_contact_at = NumberAttribute(null=True)
    name_key = UnicodeAttribute(null=True)  # of its NAME item (search), to drop it on a rename
    profile_rev = NumberAttribute(null=True)  # +1 on every profile edit (optimistic guard)
    # The purchase summary, kept by kefu.shop_events in the transaction that applies an event.
    orders_count = NumberAttribute(null=True)
    total_spent = NumberAttribute(null=True)  # integer cents (分), net of refunds
    refunds_count = NumberAttribute(null=True)
    first_purchase_at = NumberAttribute(null=True)
    last_purchase_at = NumberAttribute(null=True)
    last_refund_at = NumberAttribute(null=True)
    categories = ListAttribute(of=UnicodeAttribute, null=True)
    summary_rev = NumberAttribute(null=True)  # +1 with each summary change (optimistic guard)
    erased_at = NumberAttribute(null=True)
    merged_into = UnicodeAttribute(null=True)

    by_last_contact = _ByLastContact()

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


class CustomerLookup(KefuModel):
    """A keyed hash (HMAC) of a phone number or real name pointing at a customer: exact search
    without the value in any key or index. One item per (value, customer): two profiles with
    the same phone both answer, and neither is merged into the other by it."""

    class Meta(KefuModel.Meta):
        table_name = table_name("CUSTOMERS_TABLE", "kefu-customers")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # phone | real_name
    customer_id = UnicodeAttribute()
    created_at = NumberAttribute()

    @staticmethod
    def key(kind: str, digest: str, customer_id: str) -> str:
        return f"{LOOKUP_PREFIX}{kind}#{digest}#{customer_id}"

    @staticmethod
    def prefix(kind: str, digest: str) -> str:
        return f"{LOOKUP_PREFIX}{kind}#{digest}#"


class CustomerAttributeDef(KefuModel):
    """A custom attribute a shop defines for its customers (/v1/customer-attributes)."""

    class Meta(KefuModel.Meta):
        table_name = table_name("CUSTOMERS_TABLE", "kefu-customers")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    attribute_id = UnicodeAttribute()
    name = UnicodeAttribute()
    type = UnicodeAttribute()  # text, number, date, single_choice, multi_choice, bool
    options = ListAttribute(of=UnicodeAttribute, null=True)
    max_length = NumberAttribute(null=True)
    description = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute()

    @staticmethod
    def key(attribute_id: str) -> str:
        return f"{ATTRDEF_PREFIX}{attribute_id}"


class CustomerName(KefuModel):
    """A customer found by the prefix of their display name (a WeChat nickname, never a personal
    field), lower-cased: one item per customer, rewritten with the name. An item in the shop's
    partition rather than a second GSI: one Query on the table's key, and no index write on
    every other change of the customer."""

    class Meta(KefuModel.Meta):
        table_name = table_name("CUSTOMERS_TABLE", "kefu-customers")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()

    @staticmethod
    def key(name_key: str) -> str:
        return f"{NAME_PREFIX}{name_key}"

    @staticmethod
    def prefix(text: str) -> str:
        return f"{NAME_PREFIX}{text.strip().lower()}"
