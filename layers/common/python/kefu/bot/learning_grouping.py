"""The learning loop's grouping (kefu.bot.learning, docs/bot-learning.md): a window of misses
into paraphrase groups. Pure: term vectors from kefu.retrieval.terms, greedy leader clustering on
cosine similarity, deterministic; no reads, no writes, no actors."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kefu.retrieval import terms
from kefu.storage.bot_learning import MissItem, SuggestionState
from kefu.storage.knowledge import PLATFORM_SCOPE, is_platform_scope

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
_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


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
