"""The bot's learning loop: what it could not answer becomes suggestions for the knowledge base,
and reports show which entries earn their keep. See docs/bot-learning.md.

- The bot turn logs a miss (a question it only suggested for or handed off, or whose answer the
  customer rejected) with `record_miss`, inside the transaction it writes anyway.
- `suggestions` groups a window of misses into paraphrase groups: term vectors from
  kefu.retrieval.terms, greedy leader clustering on cosine similarity, deterministic.
- A supervisor accepts a group (a new entry, or similar questions of an existing one) or
  dismisses it; either way the group's questions stop being suggested.
- `entry_report` and `unused_entries` read the entries' hit and feedback counters.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.knowledge import entries
from kefu.knowledge.common import platform_mall, resolve_scope
from kefu.knowledge.entries import Answer, Category
from kefu.retrieval import terms
from kefu.storage.bot_learning import (
    MISS_REASONS,
    MISS_TTL_SECONDS,
    SUGGESTION_PREFIX,
    MissItem,
    SuggestionState,
)
from kefu.storage.knowledge import PLATFORM_SCOPE, KbEntry, is_platform_scope, platform_scope
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

# Clustering. Tuned on hand-written paraphrases of shop questions in Chinese and English (about
# 90 questions on 22 topics, precision 0.93 and recall 0.68 counted over pairs): a cosine of 0.3
# joins "怎么开发票" / "发票怎么开" / "能开个发票吗" and keeps "怎么退款" apart. Grouping errs
# on the side of smaller groups: a wrong question in a group would become a wrong similar
# question of an entry.
SIMILARITY = 0.3
# IDF is computed over the window's own questions, plus this many pseudo-questions that share
# no term: a word is discounted only on real evidence (in a large window, a word half the
# questions use), not because a quiet shop's few misses all ask about one thing.
BACKGROUND_DOCUMENTS = 500
# Words carry the meaning; a word's inner bigrams and characters survive segmentation that
# differs between paraphrases ("开发票" vs "发票" + "开"). Single characters count little.
KIND_WEIGHT = {"w": 1.0, "b": 1.0, "c": 0.5}
# Words that ask (when, how long, which, how much) rather than say what about: two questions
# sharing only "多久" or "when" are not paraphrases. kefu.retrieval keeps them, rightly for
# ranking against an entry's own questions; here they would join unrelated questions.
_QUESTION_WORDS = """
时候 什么时候 多久 多长 多长时间 几天 几时 多少 多少钱 怎么办 怎么样 怎样 哪家 哪里 哪儿 哪个
哪些 为什么 是不是 能不能 不能 可不可以 有没有 是否 能否 一般 大概 需要 后
how when where why long soon much many until get need want know tell
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())

KEY_PATTERN = re.compile(r"^[0-9a-f]{16}$")
_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


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


# --- grouping ---------------------------------------------------------------------------------


def _features(terms: Iterable[str]) -> Counter:
    """Terms of kefu.retrieval ("w:word", "b:bigram", "c:char") to the features compared here:
    each word, and for a Chinese word its bigrams and characters. The retrieval's bigrams across
    word boundaries are left out: they mostly pair a content word with a function word ("票吗",
    "么开"), which makes unrelated short questions look alike."""
    out: Counter = Counter()
    for term in terms:
        kind, sep, text = term.partition(":")
        if not sep:
            kind, text = "w", term
        if kind != "w" or not text or text in QUESTION_WORDS:
            continue
        if _CJK.match(text):
            if len(text) == 1:
                out["c:" + text] += 1
                continue
            out["w:" + text] += 1
            for i in range(len(text) - 1):
                out["b:" + text[i : i + 2]] += 1
            for ch in text:
                out["c:" + ch] += 1
        else:
            out["w:" + text] += 1
    return out


def question_key(terms: Iterable[str]) -> str:
    """A question's identity: a hash of its distinct normalised terms (so punctuation, case,
    spacing and full-width forms do not make a different question)."""
    joined = "\n".join(sorted(set(terms)))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


@dataclass
class _Question:
    """One distinct question of the window (every miss with the same terms)."""

    key: str
    features: Counter
    texts: Counter = field(default_factory=Counter)
    count: int = 0
    customers: set = field(default_factory=set)
    reasons: Counter = field(default_factory=Counter)
    best: Counter = field(default_factory=Counter)  # (scope, entry_id) -> misses
    best_unanswered: Counter = field(default_factory=Counter)
    scores: dict = field(default_factory=lambda: defaultdict(list))
    first_seen: int = 0
    last_seen: int = 0
    vector: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        # The wording customers used most; ties to the shorter, then the first in code order.
        return min(self.texts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]

    def add(self, miss: MissItem, text: str) -> None:
        at = int(miss.at)
        self.texts[text] += 1
        self.count += 1
        if miss.customer_id:
            self.customers.add(miss.customer_id)
        self.reasons[miss.reason] += 1
        if miss.best_entry_id:
            target = (_scope_of(miss.best_scope), miss.best_entry_id)
            self.best[target] += 1
            if miss.reason == "unanswered":
                self.best_unanswered[target] += 1
            if miss.best_score is not None:
                self.scores[target].append(float(miss.best_score))
        self.first_seen = at if not self.first_seen else min(self.first_seen, at)
        self.last_seen = max(self.last_seen, at)


@dataclass
class _Group:
    members: list[_Question] = field(default_factory=list)
    total: dict[str, float] = field(default_factory=dict)  # sum of the members' unit vectors
    norm2: float = 0.0
    decided: bool = False  # a sink: an accepted or dismissed group's questions

    def add_vector(self, vector: dict[str, float]) -> list[str]:
        """Add to the sum; returns the terms new to the group (for the postings)."""
        new = []
        for term, weight in vector.items():
            old = self.total.get(term)
            if old is None:
                new.append(term)
                old = 0.0
            self.total[term] = old + weight
            self.norm2 += (old + weight) ** 2 - old * old
        return new

    def similarity(self, vector: dict[str, float]) -> float:
        if self.norm2 <= 0:
            return 0.0
        dot = sum(w * self.total.get(t, 0.0) for t, w in vector.items())
        return dot / math.sqrt(self.norm2)


def _scope_of(scope: str | None) -> str:
    return PLATFORM_SCOPE if is_platform_scope(scope) else "shop"


def _vector(features: Counter, idf: dict[str, float], unseen: float) -> dict[str, float]:
    raw = {
        t: (1.0 + math.log(n)) * idf.get(t, unseen) * KIND_WEIGHT.get(t[:1], 1.0)
        for t, n in features.items()
    }
    norm = math.sqrt(sum(w * w for w in raw.values()))
    return {t: w / norm for t, w in raw.items()} if norm else {}


class _Clusterer:
    """Greedy leader clustering: each question, most frequent first, joins the group whose
    centroid it is most similar to (cosine >= SIMILARITY) or starts a new group; then a group
    whose centroid is as similar to an earlier group's joins that one (which question came
    first no longer splits a group). Candidate groups come from postings (term -> groups), so a
    question is only compared with the groups it shares a term with."""

    def __init__(self) -> None:
        self.groups: list[_Group] = []
        self._postings: dict[str, list[int]] = defaultdict(list)

    def _best(
        self, vector: dict[str, float], before: int | None = None
    ) -> tuple[int | None, float]:
        dots: dict[int, float] = defaultdict(float)
        for term, weight in vector.items():
            for g in self._postings.get(term, ()):
                if before is None or g < before:
                    dots[g] += weight * self.groups[g].total[term]
        best, best_score = None, 0.0
        for g in sorted(dots):  # ties to the older (more frequent) group
            group = self.groups[g]
            if not group.members and not group.decided:
                continue  # merged into another
            score = dots[g] / math.sqrt(group.norm2)
            if score > best_score + 1e-12:
                best, best_score = g, score
        return best, best_score

    def _extend(self, g: int, vector: dict[str, float]) -> None:
        for term in self.groups[g].add_vector(vector):
            self._postings[term].append(g)

    def seed(self, vectors: list[dict[str, float]]) -> None:
        """A decided group: it absorbs its questions' paraphrases, which are then hidden."""
        self.groups.append(_Group(decided=True))
        g = len(self.groups) - 1
        for vector in vectors:
            self._extend(g, vector)

    def add(self, question: _Question) -> None:
        g, score = self._best(question.vector)
        if g is None or score < SIMILARITY:
            self.groups.append(_Group())
            g = len(self.groups) - 1
        self.groups[g].members.append(question)
        self._extend(g, question.vector)

    def merge(self) -> None:
        for g, group in enumerate(self.groups):
            if group.decided or not group.members:
                continue
            norm = math.sqrt(group.norm2)
            centroid = {t: w / norm for t, w in group.total.items()}
            target, score = self._best(centroid, before=g)
            if target is None or score < SIMILARITY:
                continue
            for question in group.members:
                self.groups[target].members.append(question)
                self._extend(target, question.vector)
            group.members = []


@dataclass
class Suggestion:
    key: str
    representative: str
    questions: list[_Question]  # most frequent first; the representative first

    @property
    def keys(self) -> set[str]:
        return {q.key for q in self.questions}

    def texts(self) -> list[str]:
        return [q.text for q in self.questions]

    def to_public(self, actor: StaffActor) -> dict[str, Any]:
        qs = self.questions
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
            "key": self.key,
            "representative": self.representative,
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


def group_questions(
    misses: Iterable[MissItem],
    decided: Iterable[SuggestionState] = (),
) -> list[Suggestion]:
    """The misses' paraphrase groups, biggest first; none of a decided group's questions nor
    their close paraphrases. Deterministic: the same misses give the same groups and keys."""
    decided = list(decided)
    hidden_keys: set[str] = set()
    for state in decided:
        hidden_keys.add(state.key)
        hidden_keys.update(state.question_keys or [])

    questions: dict[str, _Question] = {}
    for miss in misses:
        text = " ".join((miss.question or "").split())
        found = terms(text)
        if not found:
            continue  # nothing to match on ("?", an emoji)
        key = question_key(found)
        if key in hidden_keys:
            continue
        q = questions.get(key)
        if q is None:
            q = questions[key] = _Question(key=key, features=_features(found))
        q.add(miss, text)
    live = [q for q in questions.values() if q.features]
    sink_features = [
        [_features(terms(t)) for t in state.question_texts or []]
        for state in sorted(decided, key=lambda s: (int(s.at), s.key))
    ]

    # IDF over the window's distinct questions and the decided groups' texts.
    documents = [q.features for q in live] + [f for fs in sink_features for f in fs]
    df: Counter = Counter()
    for features in documents:
        df.update(features.keys())
    n = len(documents) + BACKGROUND_DOCUMENTS
    idf = {t: math.log((n + 1) / (d + 0.5)) for t, d in df.items()}
    unseen = math.log((n + 1) / 0.5)
    for q in live:
        q.vector = _vector(q.features, idf, unseen)

    clusterer = _Clusterer()
    for fs in sink_features:
        clusterer.seed([v for v in (_vector(f, idf, unseen) for f in fs) if v])
    for q in sorted(live, key=lambda q: (-q.count, q.text, q.key)):
        if q.vector:
            clusterer.add(q)
    clusterer.merge()

    out = []
    for group in clusterer.groups:
        if group.decided or not group.members:
            continue
        norm = math.sqrt(group.norm2) or 1.0

        def centrality(q: _Question, group: _Group = group, norm: float = norm) -> float:
            return sum(w * group.total.get(t, 0.0) for t, w in q.vector.items()) / norm

        members = sorted(
            group.members, key=lambda q: (-q.count, -round(centrality(q), 9), q.text, q.key)
        )
        representative = members[0]
        if representative.key in hidden_keys:
            continue
        out.append(Suggestion(representative.key, representative.text, members))
    out.sort(key=lambda s: (-sum(q.count for q in s.questions), s.key))
    return out


# --- reading the log --------------------------------------------------------------------------


def _days(days: int) -> int:
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
    return _days(value)


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
    days = _days(days)
    window = _window(actor.shop_id, days)
    return {
        "suggestions": [g.to_public(actor) for g in window.groups[:limit]],
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
    days = _days(days)
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


def _audit(actor: StaffActor, action: str, key: str, after: dict, at: int) -> Any:
    return staff_change(
        actor,
        action=action,
        target_type="bot_suggestion",
        target_id=key,
        before=None,
        after=after,
        at_ms=at,
    )


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
        tx.save(_audit(actor, "bot.suggestion_accepted", group.key, after, at))
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


# --- reports ----------------------------------------------------------------------------------


def _shop_entries(shop_id: str) -> list[KbEntry]:
    """Every live entry of the shop: one paginated Query (kefu.knowledge.entries)."""
    live = KbEntry.deleted_at.does_not_exist()
    return list(entries.iter_entries(shop_id, filter_condition=live))


def _helpfulness(helpful: int, unhelpful: int) -> float | None:
    rated = helpful + unhelpful
    return round(helpful / rated, 4) if rated else None


def _entry_row(entry: KbEntry) -> dict[str, Any]:
    hits, helpful, unhelpful = (int(v or 0) for v in (entry.hits, entry.helpful, entry.unhelpful))
    return {
        "entry_id": entry.entry_id,
        "question": entry.question,
        "category": entry.category,
        "enabled": bool(entry.enabled),
        "hits": hits,
        "helpful": helpful,
        "unhelpful": unhelpful,
        "helpfulness": _helpfulness(helpful, unhelpful),
        "last_hit_at": int(entry.last_hit_at) if entry.last_hit_at is not None else None,
        "created_at": int(entry.created_at) if entry.created_at is not None else None,
    }


def entry_report(actor: StaffActor) -> dict[str, Any]:
    """Every entry of the shop with its hits and the customers' feedback, most hit first."""
    p.require(actor, p.BOT_INSIGHTS)
    rows = [_entry_row(e) for e in _shop_entries(actor.shop_id) if e.question is not None]
    rows.sort(key=lambda r: (-r["hits"], -(r["last_hit_at"] or 0), r["entry_id"]))
    helpful = sum(r["helpful"] for r in rows)
    unhelpful = sum(r["unhelpful"] for r in rows)
    return {
        "entries": rows,
        "totals": {
            "entries": len(rows),
            "hits": sum(r["hits"] for r in rows),
            "helpful": helpful,
            "unhelpful": unhelpful,
            "helpfulness": _helpfulness(helpful, unhelpful),
        },
    }


def unused_entries(actor: StaffActor, days: int = 30) -> dict[str, Any]:
    """Enabled entries the bot has not answered with in `days` days (or ever, if they are older
    than that): candidates to retire or to reword. Never-hit entries first, then the longest
    unused."""
    p.require(actor, p.BOT_INSIGHTS)
    days = _days(days)
    since = now_ms() - days * DAY_MS
    rows = []
    for entry in _shop_entries(actor.shop_id):
        if entry.question is None or not entry.enabled:
            continue
        row = _entry_row(entry)
        last = row["last_hit_at"]
        if last is not None and last >= since:
            continue
        if last is None and (row["created_at"] or 0) >= since:
            continue  # too new to judge
        rows.append({**row, "never_hit": last is None})
    rows.sort(key=lambda r: (r["last_hit_at"] or 0, r["created_at"] or 0, r["entry_id"]))
    return {"entries": rows, "days": days, "since": since}
