"""What the bot turn uses of the knowledge base: the published index (cached in the instance),
the matched entries' answers, and the counters it writes in its own transaction.

The bot reads the heads (`sk="kb"`) of the shop and of "platform" in its BatchGetItem and
passes each head's `published_version` and `index_key` here: the index is fetched from S3 only
when that version is not the one cached, so a warm turn costs no S3 request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from kefu import caches
from kefu.aws import client
from kefu.config import settings
from kefu.ids import now_ms
from kefu.storage.knowledge import KbEntry, entry_sk

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

    from kefu.retrieval import KnowledgeIndex

log = logging.getLogger("kefu")

# A shop's bot needs two indexes (its own and the platform's); a few more cover the other
# shops a busy instance serves. Each index of a 5,000-entry knowledge base is a few MB.
MAX_CACHED = 4
_cache: OrderedDict[str, tuple[int, str, KnowledgeIndex]] = OrderedDict()
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def load_index(scope: str, version: int | None, index_key: str | None) -> KnowledgeIndex | None:
    """The scope's published index, from the instance cache when `version` is the one held
    (one S3 GetObject otherwise). None when nothing is published or the object is missing."""
    if not version or not index_key:
        return None
    with _lock:
        held = _cache.get(scope)
        if held is not None and held[0] == version and held[1] == index_key:
            _cache.move_to_end(scope)
            return held[2]
    from kefu.retrieval import KnowledgeIndex  # deferred: only the bot pays for it

    s3 = client("s3")
    try:
        blob = s3.get_object(Bucket=settings().knowledge_bucket, Key=index_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        log.error("published index missing", extra={"scope": scope, "index_key": index_key})
        return None
    index = KnowledgeIndex.from_bytes(blob)
    with _lock:
        _cache[scope] = (version, index_key, index)  # replaces the scope's older version
        _cache.move_to_end(scope)
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    return index


def _usable(entry: KbEntry, at: int) -> bool:
    if entry.question is None or entry.deleted_at is not None or not entry.enabled:
        return False
    if entry.valid_from is not None and entry.valid_from > at:
        return False
    return entry.valid_until is None or entry.valid_until > at


def entries_by_id(
    scope: str, ids: list[str], *, at_ms: int | None = None, usable_only: bool = True
) -> dict[str, dict[str, Any]]:
    """entry_id -> the entry (kefu.knowledge.entries.to_public: `answer`, `question`, ...), one
    BatchGetItem. With `usable_only` (the bot's case), entries disabled, deleted, expired or not
    yet valid since the index was published are left out: answer only with what is returned."""
    from kefu.knowledge.entries import to_public

    at = at_ms if at_ms is not None else now_ms()
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    found = {}
    for entry in KbEntry.batch_get([(scope, entry_sk(i)) for i in wanted]):
        if usable_only and not _usable(entry, at):
            continue
        found[entry.entry_id] = to_public(entry, at=at)
    return found


def add_hit(tx: TransactWrite, scope: str, entry_id: str, at_ms: int) -> None:
    """Count an answer given from the entry, in the bot's transaction. The id must come from
    the index or entries_by_id: entries are never removed, only marked deleted."""
    tx.update(
        KbEntry(scope, entry_sk(entry_id)),
        [KbEntry.hits.add(1), KbEntry.last_hit_at.set(at_ms)],
    )


def add_feedback(tx: TransactWrite, scope: str, entry_id: str, helpful: bool) -> None:
    """Count the customer's 有帮助 / 没帮助 on an answer from the entry."""
    counter = KbEntry.helpful if helpful else KbEntry.unhelpful
    tx.update(KbEntry(scope, entry_sk(entry_id)), [counter.add(1)])


caches.register("kefu.knowledge.published", clear_cache)
