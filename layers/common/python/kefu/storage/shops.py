"""ShopsTable: the tenant and its staff.

pk = shop_id
sk = "PROFILE"                shop profile and channel configuration
sk = "STAFF#<username>"       one staff member and their role
GSI shop_registry  registry = "shops" (profiles only)  sort pk: every shop, for scheduled jobs
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from kefu.storage.base import KefuModel, table_name

PROFILE = "PROFILE"
STAFF_PREFIX = "STAFF#"


class _ShopRegistry(GlobalSecondaryIndex):
    class Meta:
        index_name = "shop_registry"
        projection = KeysOnlyProjection()

    registry = UnicodeAttribute(hash_key=True)
    shop_id = UnicodeAttribute(range_key=True, attr_name="pk")


class ShopProfile(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("SHOPS_TABLE", "kefu-shops")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True, default=PROFILE)
    name = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    default_queue = UnicodeAttribute(default="default")
    wechat_appid = UnicodeAttribute(null=True)
    # Secrets Manager id of {"app_secret", "token", "encoding_aes_key"}: never stored here.
    wechat_secret_id = UnicodeAttribute(null=True)
    # Which pushes the shop accepts: plain | compatible | secure (kefu.channels.wechat.push),
    # set with its WeChat settings; unset: secure with an EncodingAESKey, plain without.
    wechat_push_mode = UnicodeAttribute(null=True)
    wechat_settings_updated_at = NumberAttribute(null=True)
    # Secrets Manager id of the key the shop's own server signs app/H5 logins with.
    app_login_secret_id = UnicodeAttribute(null=True)
    # Secrets Manager id of the key the shop's back end signs POST /v1/shop-events with.
    shop_events_secret_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    registry = UnicodeAttribute(default="shops")
    # Mirror of the bot settings' `enabled` (BotTable `settings`, written in the same
    # transaction): intake reads the cached profile anyway, so it knows without a request
    # whether a new conversation opens with the bot (docs/decisions.md).
    bot_enabled = BooleanAttribute(null=True)
    # Whether the shop has enabled auto-tag rules that match customers' messages (keyword rules),
    # written in the same transaction as every rule change (kefu.tags.rules_admin): intake copies
    # it onto message.received (`data.tagging`) and only those reach the tagging function.
    message_tag_rules = BooleanAttribute(null=True)
    # Limits (kefu.limits); unset = the defaults there. Messages per customer per 10 s on
    # kefu's client API, and customer logins per minute for the whole shop.
    customer_message_limit = NumberAttribute(null=True)
    customer_login_limit = NumberAttribute(null=True)
    # The mall the shop sells in (None: a stand-alone shop). Its bot answers from that mall's
    # platform entries; the mall's operator is the shop whose id equals the mall id, and its
    # staff with role "platform" manage them (docs/decisions.md "Tenancy in a mall").
    mall_id = UnicodeAttribute(null=True)

    shop_registry = _ShopRegistry()


class StaffMember(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("SHOPS_TABLE", "kefu-shops")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)
    username = UnicodeAttribute()
    role = UnicodeAttribute()
    display_name = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    created_at = NumberAttribute()
    updated_at = NumberAttribute()

    @staticmethod
    def key(username: str) -> str:
        return f"{STAFF_PREFIX}{username}"

    def to_public(self) -> dict:
        return {
            "username": self.username,
            "role": self.role,
            "display_name": self.display_name,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
