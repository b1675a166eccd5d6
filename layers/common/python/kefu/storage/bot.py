"""The bot's own items (kefu.bot.settings, kefu.bot.turn).

BotTable (one partition per shop; the KB and keyword-rule items beside these belong to
kefu.storage.knowledge and kefu.storage.keyword_rules):
  pk = shop_id, sk = "settings"       the shop's bot settings: one JSON document and a revision
                                      (compiled phrase sets are cached per revision)

RuntimeTable (TTL `expires_at`, epoch seconds):
  pk = "BOTTURN#<shop>#<inbound message_id>"   one bot turn done: written in the turn's own
                                      transaction (conditional put), so a redelivered
                                      `message.received` sends nothing twice; it keeps the
                                      turn's events, re-published (same ids) on a redelivery in
                                      case the first attempt stored but failed to publish.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from kefu.storage.base import KefuModel, table_name
from kefu.storage.runtime import _RuntimeItem

SETTINGS_SK = "settings"
TURN_TTL_SECONDS = 7 * 24 * 3600


BOT_TABLE = table_name("BOT_TABLE", "kefu-bot")


class BotItem(KefuModel):
    """An item of a shop's partition of BotTable (the knowledge base's items name the partition
    `scope` instead: it may be "platform")."""

    class Meta(KefuModel.Meta):
        abstract = True
        table_name = BOT_TABLE

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)


class BotSettingsItem(BotItem):
    class Meta(BotItem.Meta):
        abstract = False

    sk = UnicodeAttribute(range_key=True, default=SETTINGS_SK)
    # The settings document as PUT /v1/bot/settings validated it (kefu.bot.settings.BotSettings).
    doc = JSONAttribute()
    enabled = NumberAttribute(default=0)  # 1 | 0, also mirrored on ShopProfile.bot_enabled
    revision = NumberAttribute(default=0)  # bumped on every change: the compiled-phrases cache key
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute(null=True)


class BotTurn(_RuntimeItem):
    class Meta(_RuntimeItem.Meta):
        abstract = False

    conversation_id = UnicodeAttribute()
    outcome = UnicodeAttribute()
    events = JSONAttribute()  # [DomainEvent fields], published after the transaction
    # Off-hours: a customer's message still to be recorded on a ticket (done after the commit).
    ticket_work = JSONAttribute(null=True)
    at = NumberAttribute()

    @staticmethod
    def key(shop_id: str, message_id: str) -> str:
        return f"BOTTURN#{shop_id}#{message_id}"
