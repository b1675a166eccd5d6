"""BotTable items of the keyword auto-reply rules (关键词自动回复, kefu.bot.keyword_rules), in the
shop's partition.

pk = shop_id
sk = "rules"            the rules head: `revision` (bumped in the same transaction as every rule
                        change, so the bot turn knows from one BatchGetItem whether its cached
                        matcher is current), `rule_count`, `regex_rule_count` (limits).
sk = "rule#<rule_id>"   one rule: match mode, keywords or patterns, priority, channels, when it
                        is active, its replies (1-5 messages), enabled; counters `hits` (ADD by
                        the bot turn) and `last_hit_at`.

Access: the head by key (GetItem, or the bot turn's BatchGetItem); one rule by key; every rule
of a shop with one paginated Query (begins_with "rule#"), only when the revision changes. Never
a Scan.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from kefu.storage.bot import BotItem

RULES_HEAD = "rules"
RULE_PREFIX = "rule#"


class KeywordRulesHead(BotItem):
    class Meta(BotItem.Meta):
        abstract = False

    revision = NumberAttribute(default=0)
    rule_count = NumberAttribute(default=0)
    regex_rule_count = NumberAttribute(default=0)
    updated_at = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)

    @staticmethod
    def key() -> str:
        return RULES_HEAD


class KeywordRule(BotItem):
    """Attributes are nullable on read: `add_hit` may race a delete and leave a counters-only
    stub (an update creates what it updates); `is_rule` tells a real rule from one."""

    class Meta(BotItem.Meta):
        abstract = False

    rule_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    match_mode = UnicodeAttribute(null=True)  # exact | contains | regex
    keywords = ListAttribute(of=UnicodeAttribute, null=True)  # regex: the patterns
    priority = NumberAttribute(default=0)
    channels = ListAttribute(of=UnicodeAttribute, null=True)  # empty: every channel
    # {"when": always|business_hours|off_hours|windows, "windows": [...], "timezone": ...}
    active = JSONAttribute(null=True)
    # [{"type": "text", "content": ...} | {"type": "image", "media_id"|"url": ...} |
    #  {"type": "miniprogrampage", "title", "pagepath", "thumb_media_id"}]
    replies = JSONAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    hits = NumberAttribute(default=0)
    last_hit_at = NumberAttribute(null=True)
    created_at = NumberAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)

    @staticmethod
    def key(rule_id: str) -> str:
        return f"{RULE_PREFIX}{rule_id}"

    @property
    def is_rule(self) -> bool:
        return bool(self.rule_id and self.match_mode and self.replies)

    def definition(self) -> dict[str, Any]:
        """What the shop wrote (the audit's before/after): no counters, no bookkeeping."""
        return {
            "name": self.name,
            "match_mode": self.match_mode,
            "keywords": list(self.keywords or []),
            "priority": int(self.priority or 0),
            "channels": list(self.channels or []),
            "active": self.active or {"when": "always"},
            "replies": list(self.replies or []),
            "enabled": bool(self.enabled),
        }

    def to_public(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            **self.definition(),
            "hits": int(self.hits or 0),
            "last_hit_at": int(self.last_hit_at) if self.last_hit_at is not None else None,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }
