"""Staff notification inbox items in WorkbenchTable (realtime owns the INBOX prefixes).

pk = shop_id
sk = "INBOX#<username>#<ms 13 digits>#<id>"   one notification; newest first by sk; TTL 30 days
sk = "INBOXSEEN#<username>"                    watermark: everything at or before `read_all_at`
                                               is read ("mark all read" is one write)
The id is derived from the domain event id, so a redelivered event writes the same item.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from kefu.storage.workbench import WorkbenchItem

INBOX_TTL_SECONDS = 30 * 86400


def inbox_prefix(username: str) -> str:
    return f"INBOX#{username}#"


def inbox_key(username: str, at_ms: int, item_id: str) -> str:
    return f"{inbox_prefix(username)}{at_ms:013d}#{item_id}"


def seen_key(username: str) -> str:
    return f"INBOXSEEN#{username}"


class InboxItem(WorkbenchItem):
    class Meta(WorkbenchItem.Meta):
        abstract = False

    username = UnicodeAttribute()
    kind = UnicodeAttribute()  # assigned | transferred | sla_breached | mentioned | ticket_assigned
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    at = NumberAttribute()  # ms, the event's occurred_at
    title = UnicodeAttribute()
    data = JSONAttribute(default=dict)
    read_at = NumberAttribute(null=True)
    expires_at = NumberAttribute()  # epoch seconds (TTL)


class InboxSeen(WorkbenchItem):
    class Meta(WorkbenchItem.Meta):
        abstract = False

    read_all_at = NumberAttribute()  # ms
