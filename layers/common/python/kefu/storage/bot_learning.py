"""BotTable items of the bot's learning loop (kefu.bot.learning), in the shop's partition.

pk = shop_id
sk = "miss#<13-digit ms>#<miss_id>"   a question the bot did not answer (`unanswered`: it only
                                      suggested or handed off) or whose answer the customer
                                      rejected (`rejected`); the best hit it had. TTL 90 days.
sk = "suggestion#<group key>"         a supervisor's decision on a group of misses: `accepted`
                                      (became an entry or similar questions of one) or
                                      `dismissed`. Hides the group from the suggestions.

Access: the bot turn Puts a miss inside its own TransactWriteItems; suggestions are one Query of
the miss log within a time window (a `between` on the sort key, newest first) plus one Query of
the decisions (`begins_with` "suggestion#"). Never a Scan.
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from kefu.storage.bot import BotItem

MISS_PREFIX = "miss#"
SUGGESTION_PREFIX = "suggestion#"
MISS_TTL_SECONDS = 90 * 24 * 3600
MISS_REASONS = ("unanswered", "rejected")
SUGGESTION_STATES = ("accepted", "dismissed")


class MissItem(BotItem):
    class Meta(BotItem.Meta):
        abstract = False

    miss_id = UnicodeAttribute()
    question = UnicodeAttribute()
    reason = UnicodeAttribute()  # unanswered | rejected
    conversation_id = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    best_entry_id = UnicodeAttribute(null=True)
    best_scope = UnicodeAttribute(null=True)  # shop | platform
    best_score = NumberAttribute(null=True)
    at = NumberAttribute()
    expires_at = NumberAttribute()  # epoch seconds (TTL)

    @staticmethod
    def key(at_ms: int, miss_id: str) -> str:
        return f"{MISS_PREFIX}{at_ms:013d}#{miss_id}"

    @staticmethod
    def window(since_ms: int) -> tuple[str, str]:
        """Sort-key bounds of the misses logged at or after since_ms ('~' sorts after digits)."""
        return f"{MISS_PREFIX}{max(since_ms, 0):013d}", f"{MISS_PREFIX}~"


class SuggestionState(BotItem):
    class Meta(BotItem.Meta):
        abstract = False

    key = UnicodeAttribute()
    state = UnicodeAttribute()  # accepted | dismissed
    by = UnicodeAttribute()  # username
    at = NumberAttribute()
    representative = UnicodeAttribute(null=True)
    miss_count = NumberAttribute(null=True)  # misses in the group when decided
    accepted_as = UnicodeAttribute(null=True)  # entry | similar
    target_entry_id = UnicodeAttribute(null=True)
    target_scope = UnicodeAttribute(null=True)
    # The group's questions: every one's key (hidden from then on) and the most frequent texts
    # (their close paraphrases are hidden too).
    question_keys = ListAttribute(of=UnicodeAttribute, null=True)
    question_texts = ListAttribute(of=UnicodeAttribute, null=True)
    expires_at = NumberAttribute(null=True)  # epoch seconds (TTL): as long as the miss log

    @staticmethod
    def sk_for(key: str) -> str:
        return f"{SUGGESTION_PREFIX}{key}"

    def to_public(self) -> dict:
        return {
            "key": self.key,
            "state": self.state,
            "by": self.by,
            "at": int(self.at),
            "representative": self.representative,
            "count": int(self.miss_count) if self.miss_count is not None else None,
            "as": self.accepted_as,
            "entry_id": self.target_entry_id,
            "scope": self.target_scope,
        }
