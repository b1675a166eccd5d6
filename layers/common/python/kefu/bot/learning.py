"""The bot's learning loop: what it could not answer becomes suggestions for the knowledge base,
and reports show which entries earn their keep. See docs/bot-learning.md.

- The bot turn logs a miss (a question it only suggested for or handed off, or whose answer the
  customer rejected) with `record_miss`, inside the transaction it writes anyway.
- `suggestions` groups a window of misses into paraphrase groups (kefu.bot.learning_grouping:
  term vectors from kefu.retrieval.terms, greedy leader clustering on cosine similarity,
  deterministic).
- A supervisor accepts a group (a new entry, or similar questions of an existing one) or
  dismisses it; either way the group's questions stop being suggested.
- `entry_report` and `unused_entries` (kefu.bot.learning_reports) read the entries' hit and
  feedback counters.

The grouping itself is kefu.bot.learning_grouping (pure); this module reads and writes.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.bot.learning_grouping import Suggestion, group_questions
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.knowledge import entries
from kefu.knowledge.common import platform_mall, resolve_scope
from kefu.knowledge.entries import Answer, Category
from kefu.storage.bot_learning import (
    MISS_REASONS,
    MISS_TTL_SECONDS,
    SUGGESTION_PREFIX,
    MissItem,
    SuggestionState,
)
from kefu.storage.knowledge import PLATFORM_SCOPE, is_platform_scope, platform_scope
from kefu.storage.tx import condition_failed, write_transaction

DAY_MS = 24 * 3600 * 1000
MAX_DAYS = 90  # the miss log's lifetime
MAX_MISSES_READ = 5_000  # one suggestions request reads at most this many misses
MAX_QUESTION_CHARS = 500  # of a logged question
MAX_KB_QUESTION_CHARS = 200  # kefu.knowledge.entries.Question
MAX_SIMILAR = 100  # kefu.knowledge.entries.SimilarQuestions
MAX_SAMPLES = 5
# A decision remembers every question of its group (to hide them exactly) and the most
# frequent ones as text (to hide their close paraphrases too).
MAX_DECIDED_KEYS = 2_000
MAX_DECIDED_TEXTS = 20
DECISION_TTL_SECONDS = MISS_TTL_SECONDS

KEY_PATTERN = re.compile(r"^[0-9a-f]{16}$")


# --- recording (the bot turn) -----------------------------------------------------------------


def record_miss(
    tx: TransactWrite,
    shop_id: str,
    *,
    conversation_id: str | None,
    customer_id: str | None,
    question: str,
    reason: str,
    best_entry_id: str | None,
    best_score: float | None,
    at_ms: int,
    best_scope: str | None = None,
) -> MissItem:
    """Add the miss to the caller's TransactWrite (no request of its own). `reason`:
    `unanswered` (the bot suggested or handed off) or `rejected` (the customer refused its
    answer); `best_*`: the best hit the bot had, if any."""
    if reason not in MISS_REASONS:
        raise ValueError(f"reason must be one of {MISS_REASONS}, not {reason!r}")
    miss_id = new_id("ms", at_ms)
    item = MissItem(
        shop_id,
        MissItem.key(at_ms, miss_id),
        miss_id=miss_id,
        question=question.strip()[:MAX_QUESTION_CHARS],
        reason=reason,
        conversation_id=conversation_id,
        customer_id=customer_id,
        best_entry_id=best_entry_id,
        best_scope=best_scope if best_entry_id else None,
        best_score=round(float(best_score), 4) if best_score is not None else None,
        at=at_ms,
        expires_at=at_ms // 1000 + MISS_TTL_SECONDS,
    )
    tx.save(item)
    return item


# --- request bodies ---------------------------------------------------------------------------


KbQuestion = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_KB_QUESTION_CHARS)]
EntryId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Scope = Annotated[str, msgspec.Meta(pattern=r"^platform$")]


class AcceptAsEntry(msgspec.Struct, tag_field="as", tag="entry", forbid_unknown_fields=True):
    """A new entry: the representative (or `question`) as standard question, the rest similar."""

    answer: Answer
    question: KbQuestion | None = None
    category: Category | None = None


class AcceptAsSimilar(msgspec.Struct, tag_field="as", tag="similar", forbid_unknown_fields=True):
    """The group's questions become similar questions of an entry (`scope`: platform, its staff)."""

    entry_id: EntryId
    scope: Scope | None = None


AcceptSuggestion = AcceptAsEntry | AcceptAsSimilar


# --- showing a group -------------------------------------------------------------------------


def _public(group: Suggestion, actor: StaffActor) -> dict[str, Any]:
    qs = group.questions
    count = sum(q.count for q in qs)
    customers: set = set().union(*(q.customers for q in qs))
    reasons: Counter = Counter({r: 0 for r in MISS_REASONS})
    best: Counter = Counter()
    best_unanswered: Counter = Counter()
    scores: dict = defaultdict(list)
    for q in qs:
        reasons.update(q.reasons)
        best.update(q.best)
        best_unanswered.update(q.best_unanswered)
        for target, values in q.scores.items():
            scores[target].extend(values)
    best_entry = None
    suggested: dict[str, Any] = {"as": "entry"}
    if best:
        (scope, entry_id), near = min(best.items(), key=lambda kv: (-kv[1], kv[0]))
        values = scores.get((scope, entry_id)) or []
        best_entry = {
            "entry_id": entry_id,
            "scope": scope,
            "misses": near,
            "unanswered": best_unanswered[(scope, entry_id)],
            "average_score": round(sum(values) / len(values), 4) if values else None,
        }
        # Near misses (the bot was unsure) say the entry lacks this wording; answers the
        # customer rejected say the opposite, so they do not count towards "similar".
        if best_unanswered[(scope, entry_id)] * 2 > count and _can_edit(actor, scope):
            suggested = {"as": "similar", "entry_id": entry_id}
            if is_platform_scope(scope):
                suggested["scope"] = PLATFORM_SCOPE
    return {
        "key": group.key,
        "representative": group.representative,
        "count": count,
        "customers": len(customers),
        "distinct_questions": len(qs),
        "samples": [q.text for q in qs[:MAX_SAMPLES]],
        "reasons": dict(reasons),
        "best_entry": best_entry,
        "suggested": suggested,
        "first_seen": min(q.first_seen for q in qs),
        "last_seen": max(q.last_seen for q in qs),
    }


def _can_edit(actor: StaffActor, scope: str) -> bool:
    if not is_platform_scope(scope):
        return True
    mall = platform_mall(actor)
    return mall is not None and scope == platform_scope(mall)


# --- reading the log --------------------------------------------------------------------------


def window_days(days: int) -> int:
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}", code="invalid_days")
    return days


def parse_days(raw: str | None, default: int = 30) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("days must be an integer", code="invalid_days") from None
    return window_days(value)


def _read_misses(shop_id: str, since_ms: int) -> tuple[list[MissItem], bool]:
    """The window's misses, newest first: one paginated Query, at most MAX_MISSES_READ items.
    Returns (misses, capped)."""
    low, high = MissItem.window(since_ms)
    results = MissItem.query(
        shop_id,
        MissItem.sk.between(low, high),
        scan_index_forward=False,
        limit=MAX_MISSES_READ,
    )
    misses = list(results)
    capped = len(misses) >= MAX_MISSES_READ and results.last_evaluated_key is not None
    return misses, capped


def _read_decisions(shop_id: str, at: int) -> list[SuggestionState]:
    """The shop's accepted and dismissed groups (TTL deletes them late: skip the expired)."""
    now_s = at // 1000
    return [
        s
        for s in SuggestionState.query(shop_id, SuggestionState.sk.startswith(SUGGESTION_PREFIX))
        if s.expires_at is None or int(s.expires_at) > now_s
    ]


@dataclass
class _Window:
    days: int
    since: int
    misses_read: int
    capped: bool
    groups: list[Suggestion]
    decided: dict[str, SuggestionState]


def _window(shop_id: str, days: int) -> _Window:
    at = now_ms()
    since = at - days * DAY_MS
    misses, capped = _read_misses(shop_id, since)
    decided = _read_decisions(shop_id, at)
    groups = group_questions(misses, decided)
    return _Window(days, since, len(misses), capped, groups, {s.key: s for s in decided})


def suggestions(actor: StaffActor, days: int = 30, limit: int = 50) -> dict[str, Any]:
    """The groups of the last `days` days' misses, biggest first (accepted and dismissed groups
    left out)."""
    p.require(actor, p.BOT_INSIGHTS)
    days = window_days(days)
    window = _window(actor.shop_id, days)
    return {
        "suggestions": [_public(g, actor) for g in window.groups[:limit]],
        "total": len(window.groups),
        "days": days,
        "since": window.since,
        "misses_read": window.misses_read,
        "capped": window.capped,
        "note": (
            f"only the newest {MAX_MISSES_READ} misses of the window were read: choose fewer "
            "days to see the older ones"
            if window.capped
            else None
        ),
    }


def _find(actor: StaffActor, key: str, days: int) -> Suggestion:
    """The group `key` names in the window the suggestions were listed for: the group it is the
    key of, or (new misses having changed its representative since) the group holding that
    question."""
    days = window_days(days)
    if not KEY_PATTERN.match(key or ""):
        raise NotFound(f"no suggestion {key!r}", code="suggestion_not_found")
    window = _window(actor.shop_id, days)
    if key in window.decided:
        raise Conflict(
            f"suggestion {key!r} was already {window.decided[key].state}",
            code="suggestion_decided",
        )
    for group in window.groups:
        if group.key == key:
            return group
    for group in window.groups:
        if key in group.keys:
            return group
    raise NotFound(
        f"no suggestion {key!r}: it may have been decided, or its misses have expired",
        code="suggestion_not_found",
    )


# --- deciding ---------------------------------------------------------------------------------


def _state(
    actor: StaffActor, group: Suggestion, state: str, at: int, **extra: Any
) -> SuggestionState:
    ordered = [q.key for q in group.questions]
    return SuggestionState(
        actor.shop_id,
        SuggestionState.sk_for(group.key),
        key=group.key,
        state=state,
        by=actor.username,
        at=at,
        representative=group.representative,
        miss_count=sum(q.count for q in group.questions),
        question_keys=ordered[:MAX_DECIDED_KEYS],
        question_texts=group.texts()[:MAX_DECIDED_TEXTS],
        expires_at=at // 1000 + DECISION_TTL_SECONDS,
        **extra,
    )


_audit = StaffChanges("bot_suggestion")


def _already(key: str) -> Conflict:
    return Conflict(f"suggestion {key!r} was decided meanwhile", code="suggestion_decided")


def dismiss(actor: StaffActor, key: str, days: int = 30) -> dict[str, Any]:
    """Not worth an entry: the group's questions and their close paraphrases stop being
    suggested (for as long as the decision lasts: 90 days, the log's lifetime)."""
    p.require(actor, p.BOT_INSIGHTS)
    group = _find(actor, key, days)
    at = now_ms()
    state = _state(actor, group, "dismissed", at)
    try:
        with write_transaction() as tx:
            tx.save(state, condition=SuggestionState.sk.does_not_exist())
            tx.save(
                _audit(
                    actor,
                    "bot.suggestion_dismissed",
                    group.key,
                    None,
                    {"state": "dismissed", "representative": group.representative},
                    at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            raise _already(group.key) from None
        raise
    return state.to_public()


def _questions_for_kb(texts: Iterable[str], exclude: Iterable[str]) -> list[str]:
    """The texts that can be knowledge-base questions, repeats (ignoring case) dropped."""
    seen = {t.strip().casefold() for t in exclude}
    out = []
    for text in texts:
        t = text.strip()
        if t and len(t) <= MAX_KB_QUESTION_CHARS and t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    return out


def accept(actor: StaffActor, key: str, req: AcceptSuggestion, days: int = 30) -> dict[str, Any]:
    """One step from a group to the knowledge base: a new entry, or the group's questions added
    to an entry's similar questions. The draft changes; publishing is the supervisor's next
    step (`publish_needed`)."""
    p.require(actor, p.BOT_INSIGHTS)
    p.require(actor, p.KNOWLEDGE_MANAGE)
    group = _find(actor, key, days)
    texts = group.texts()
    if isinstance(req, AcceptAsEntry):
        standard = (req.question or group.representative).strip()
        if not standard or len(standard) > MAX_KB_QUESTION_CHARS:
            raise BadRequest(
                f"the group's question is longer than {MAX_KB_QUESTION_CHARS} characters: "
                "send the entry's standard question as `question`",
                code="question_required",
            )
        similar = _questions_for_kb(texts, [standard])
        added, skipped = similar[:MAX_SIMILAR], similar[MAX_SIMILAR:]

        def apply() -> dict[str, Any]:
            return entries.create_entry(
                actor,
                None,
                entries.NewKbEntry(
                    question=standard,
                    similar_questions=added,
                    answer=req.answer,
                    category=req.category,
                ),
            )

        scope, target_id = None, None
    else:
        scope = resolve_scope(actor, req.scope, manage=True)
        entry = entries.load_entry(scope, req.entry_id)
        current = entries.content_of(entry)
        existing = [current["question"], *current["similar_questions"]]
        new = _questions_for_kb(texts, existing)
        room = max(0, MAX_SIMILAR - len(current["similar_questions"]))
        added, skipped = new[:room], new[room:]
        target_id = req.entry_id

        def apply() -> dict[str, Any]:
            if not added:
                return entries.to_public(entry)
            return entries.update_entry(
                actor,
                req.scope,
                req.entry_id,
                entries.KbEntryChange(
                    revision=int(entry.revision),
                    similar_questions=[*current["similar_questions"], *added],
                ),
            )

    at = now_ms()
    accepted_as = "entry" if isinstance(req, AcceptAsEntry) else "similar"
    claim = _state(
        actor,
        group,
        "accepted",
        at,
        accepted_as=accepted_as,
        target_entry_id=target_id,
        target_scope=scope if is_platform_scope(scope) else None,
    )
    # Claim the group first, so that two supervisors accepting it at once make one entry; the
    # knowledge base writes its entry, version, head and audit in its own transaction.
    try:
        claim.save(condition=SuggestionState.sk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise _already(group.key) from None
        raise
    try:
        entry_out = apply()
    except Exception:
        _release(claim)
        raise
    entry_id = entry_out["entry_id"]
    after = {
        "state": "accepted",
        "as": accepted_as,
        "representative": group.representative,
        "entry_id": entry_id,
        "scope": entry_out.get("scope"),
        "questions_added": added if accepted_as == "similar" else [standard, *added],
    }
    with write_transaction() as tx:
        tx.update(
            claim,
            [
                SuggestionState.target_entry_id.set(entry_id),
                SuggestionState.target_scope.set(entry_out.get("scope")),
            ],
        )
        tx.save(_audit(actor, "bot.suggestion_accepted", group.key, None, after, at))
    return {
        "key": group.key,
        "state": "accepted",
        "as": accepted_as,
        "entry": entry_out,
        "questions_added": after["questions_added"],
        "questions_skipped": len(skipped),
        "publish_needed": True,
        "note": "the change is in the knowledge base's draft: publish it for the bot to use it",
    }


def _release(claim: SuggestionState) -> None:
    """Undo a claim whose knowledge-base change failed, so the group can be accepted again."""
    # Conditional: should the claim be someone else's by now, it is theirs to keep.
    with contextlib.suppress(DeleteError):
        claim.delete(condition=(SuggestionState.by == claim.by) & (SuggestionState.at == claim.at))
