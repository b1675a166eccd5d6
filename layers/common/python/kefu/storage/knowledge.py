"""BotTable items of the knowledge base (知识库, kefu.knowledge), one partition per scope: the
shop's id, or "platform/<mall_id>" for a mall's platform-wide entries, which the bot of every
shop of that mall also answers from (shop ids cannot contain "/", so the two never meet).

pk = scope
sk = "kb"                             the head: `draft_revision` (bumped in the same transaction
                                      as every entry or dictionary change), the published index
                                      (`published_version`, `index_key`, `published_at`,
                                      `entry_count`, `published_draft_revision`), `entry_total`
                                      (live entries, for the limit), the shop's `dictionary`,
                                      a pending publish request (`publish_requested_revision`,
                                      `_at`, `_by`: the knowledge_publisher function builds it)
                                      and the last failed one (`publish_error`, `_at`,
                                      `_revision`).
sk = "entry#<entry_id>"               one entry (current state) and its counters `hits`,
                                      `helpful`, `unhelpful`, `last_hit_at` (ADD by the bot).
                                      A deleted entry stays, marked `deleted_at` (its counters
                                      and versions are kept, and it can be restored).
sk = "entryver#<entry_id>#<rev:06d>"  an immutable snapshot of the entry at that revision.
sk = "publish#<version:06d>"          one publish: the index's S3 key, entry count, who, when.

Entry ids have a fixed length, so no entry's version prefix matches another's, and
"entry#" is not a prefix of "entryver#".

Access: the head by key (GetItem, or the bot turn's BatchGetItem); an entry by key, or the
matched entries of a bot turn by BatchGetItem; every entry of a scope with one paginated Query
(begins_with "entry#": listing, publish, import, export); an entry's versions and the publishes
with a Query on their prefix, newest first. Never a Scan.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from kefu.storage.base import KefuModel
from kefu.storage.bot import BOT_TABLE

PLATFORM_SCOPE = "platform"  # what a request names (`?scope=platform`): the caller's mall's
PLATFORM_PREFIX = "platform/"


def platform_scope(mall_id: str) -> str:
    """The partition of the mall's platform-wide entries (its index: "platform/<mall>/kb/...")."""
    return f"{PLATFORM_PREFIX}{mall_id}"


def is_platform_scope(scope: str | None) -> bool:
    return bool(scope) and str(scope).startswith(PLATFORM_PREFIX)


HEAD = "kb"
ENTRY_PREFIX = "entry#"
VERSION_PREFIX = "entryver#"
PUBLISH_PREFIX = "publish#"


def entry_sk(entry_id: str) -> str:
    return f"{ENTRY_PREFIX}{entry_id}"


def version_prefix(entry_id: str) -> str:
    return f"{VERSION_PREFIX}{entry_id}#"


def version_sk(entry_id: str, revision: int) -> str:
    return f"{VERSION_PREFIX}{entry_id}#{revision:06d}"


def publish_sk(version: int) -> str:
    return f"{PUBLISH_PREFIX}{version:06d}"


class _KnowledgeItem(KefuModel):
    class Meta(KefuModel.Meta):
        abstract = True
        table_name = BOT_TABLE

    scope = UnicodeAttribute(hash_key=True, attr_name="pk")
    sk = UnicodeAttribute(range_key=True)


class KbHead(_KnowledgeItem):
    class Meta(_KnowledgeItem.Meta):
        abstract = False

    draft_revision = NumberAttribute(null=True)
    entry_total = NumberAttribute(null=True)
    published_version = NumberAttribute(null=True)
    published_at = NumberAttribute(null=True)
    published_by = UnicodeAttribute(null=True)
    published_draft_revision = NumberAttribute(null=True)
    index_key = UnicodeAttribute(null=True)
    entry_count = NumberAttribute(null=True)
    dictionary = ListAttribute(of=UnicodeAttribute, null=True)
    dictionary_updated_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    # A publish asked for and not yet built (kefu.knowledge.publisher); removed once a publish
    # has built that draft revision, when it fails for good, or by a rollback.
    publish_requested_revision = NumberAttribute(null=True)
    publish_requested_at = NumberAttribute(null=True)
    publish_requested_by = UnicodeAttribute(null=True)
    # Why the last requested publish failed for good; removed by the next request or publish.
    publish_error = UnicodeAttribute(null=True)
    publish_error_at = NumberAttribute(null=True)
    publish_error_revision = NumberAttribute(null=True)


class KbEntry(_KnowledgeItem):
    """Content attributes are nullable on read only so that a malformed item cannot break a
    listing; the domain always writes them."""

    class Meta(_KnowledgeItem.Meta):
        abstract = False

    entry_id = UnicodeAttribute(null=True)
    question = UnicodeAttribute(null=True)
    similar_questions = ListAttribute(of=UnicodeAttribute, null=True)
    # A list of reply messages ({"type": "text", "content": ...}, image, miniprogrampage).
    answer = JSONAttribute(null=True)
    category = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    enabled = BooleanAttribute(null=True)
    valid_from = NumberAttribute(null=True)
    valid_until = NumberAttribute(null=True)
    # Lower-cased questions, for the listing's text filter (a DynamoDB `contains`).
    search_text = UnicodeAttribute(null=True)
    revision = NumberAttribute(null=True)
    created_at = NumberAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    deleted_at = NumberAttribute(null=True)
    deleted_by = UnicodeAttribute(null=True)
    hits = NumberAttribute(null=True)
    helpful = NumberAttribute(null=True)
    unhelpful = NumberAttribute(null=True)
    last_hit_at = NumberAttribute(null=True)


class KbEntryVersion(_KnowledgeItem):
    class Meta(_KnowledgeItem.Meta):
        abstract = False

    entry_id = UnicodeAttribute()
    revision = NumberAttribute()
    # created | updated | deleted | restored | imported
    action = UnicodeAttribute()
    # The entry's content at this revision (kefu.knowledge.entries.CONTENT_FIELDS).
    content = JSONAttribute()
    deleted = BooleanAttribute(default=False)
    restored_from = NumberAttribute(null=True)
    at = NumberAttribute()
    by = UnicodeAttribute()


class KbPublish(_KnowledgeItem):
    class Meta(_KnowledgeItem.Meta):
        abstract = False

    version = NumberAttribute()
    index_key = UnicodeAttribute()
    entry_count = NumberAttribute()
    size_bytes = NumberAttribute()
    draft_revision = NumberAttribute()
    restored_from = NumberAttribute(null=True)
    published_at = NumberAttribute()
    published_by = UnicodeAttribute()
