"""The knowledge-base index: built once at publish, searched on every bot turn.

Each question (standard or similar) of an entry is a document: a TF-IDF vector over the terms of
kefu.retrieval.text, with sub-linear term frequency and unit length. A query's score against a
question is their cosine, in [0, 1]; an entry's score is its best question's, nudged up by the
entry's centroid (the mean of its questions' vectors) so that an entry with many paraphrases
that all share the query's words beats a lone look-alike.

Query terms the index has never seen count in the query's length with the highest IDF: a question
about something the knowledge base does not cover ("HEM 8712 有货吗") scores low, which is what
lets the bot hand off instead of answering wrongly.

The index is serialised as compressed JSON (no pickle: the bytes come from S3) and carries
everything a query needs, including the segmentation lexicon, so loading it is one read.
"""

from __future__ import annotations

import heapq
import json
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from kefu.retrieval import intent_model
from kefu.retrieval.text import (
    BIGRAM,
    CHAR,
    TRIGRAM,
    WORD,
    Segmenter,
    analyse,
    full_segmenter,
)

FORMAT = 1
# How much each kind of term counts (see text.py). Chinese bigrams carry most of the signal in
# paraphrases; single characters only break ties; Latin trigrams absorb misspellings.
KIND_WEIGHT = {WORD: 1.0, BIGRAM: 0.8, CHAR: 0.35, TRIGRAM: 0.4}
# Share of the support of an entry's other questions (or its centroid) in its score.
SUPPORT_SHARE = 0.5
NEIGHBOURS = 3
# Share of the intent model's probability in the score of an entry it knows (intent_model.py).
MODEL_SHARE = 0.3
# Terms in more than this share of the questions are not added up (see search).
COMMON_SHARE = 0.25
COMMON_MIN_QUESTIONS = 200
# Entries scored in full per query: those of the best-matching questions.
CANDIDATES = 50


@dataclass(frozen=True)
class Document:
    """One knowledge-base entry as the index sees it: its standard question first."""

    entry_id: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float  # confidence in [0, 1]
    question: str  # the entry's question that matched best


def _kind(term: str) -> float:
    return KIND_WEIGHT[term[:2]]


def _vector(counts: Counter, idf: dict[str, float], unseen_idf: float) -> dict[str, float]:
    vec = {t: (1.0 + math.log(n)) * idf.get(t, unseen_idf) * _kind(t) for t, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
    return {t: w / norm for t, w in vec.items()}


class KnowledgeIndex:
    def __init__(self, data: dict) -> None:
        self._entries: list[str] = data["entries"]
        self._questions: list[str] = data["questions"]
        self._question_entry: list[int] = data["question_entry"]
        self._idf: dict[str, float] = data["idf"]
        self._unseen_idf: float = data["unseen_idf"]
        self._lexicon: dict[str, int] = data["lexicon"]
        # term -> ([question index...], [weight...]); entry index -> its centroid {term: weight}
        self._postings: dict[str, list[list]] = data["postings"]
        self._centroids: dict[str, dict[str, float]] = data["centroids"]
        self._model: dict | None = data.get("intent_model")
        self._segmenter: Segmenter | None = None
        # entry index -> its questions' indexes (standard question first)
        self._entry_questions: list[list[int]] = [[] for _ in self._entries]
        for q, e in enumerate(self._question_entry):
            self._entry_questions[e].append(q)
        n = len(self._questions)
        # Only a large knowledge base has terms common enough to skip (see search).
        self._common_idf = (
            math.log((n + 1) / (COMMON_SHARE * n + 0.5)) if n >= COMMON_MIN_QUESTIONS else -math.inf
        )

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, documents: Iterable[Document], dictionary: Iterable[str] = ()) -> KnowledgeIndex:
        segmenter = full_segmenter()
        extra = [w for w in dictionary if w.strip()]
        if extra:
            segmenter = Segmenter()
            segmenter.add_words(extra)
        entries: list[str] = []
        questions: list[str] = []
        question_entry: list[int] = []
        bags: list[Counter] = []
        lexicon: dict[str, int] = {}
        for doc in documents:
            seen: set[str] = set()
            entry_index = -1
            for question in doc.questions:
                text = question.strip()
                if not text or text in seen:
                    continue
                seen.add(text)
                found, words = analyse(text, segmenter)
                if not found:
                    continue
                if entry_index < 0:
                    entries.append(doc.entry_id)
                    entry_index = len(entries) - 1
                questions.append(text)
                question_entry.append(entry_index)
                bags.append(Counter(found))
                for word in words:
                    if len(word) > 1:
                        lexicon[word] = segmenter.frequency(word)
        n = len(bags)
        df: Counter = Counter()
        for bag in bags:
            df.update(bag.keys())
        idf = {t: math.log((n + 1) / (d + 0.5)) for t, d in df.items()}
        unseen_idf = math.log((n + 1) / 0.5)
        postings: dict[str, list[list]] = defaultdict(lambda: [[], []])
        sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        counts: Counter = Counter()
        vectors = [_vector(bag, idf, unseen_idf) for bag in bags]
        for q, vec in enumerate(vectors):
            entry = question_entry[q]
            counts[entry] += 1
            for t, w in vec.items():
                postings[t][0].append(q)
                postings[t][1].append(round(w, 5))
                sums[entry][t] += w
        # Centroids only where an entry has several questions (else it is its one question).
        centroids: dict[str, dict[str, float]] = {}
        for entry, vec in sums.items():
            if counts[entry] < 2:
                continue
            norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
            centroids[str(entry)] = {t: round(w / norm, 5) for t, w in vec.items()}
        return cls(
            {
                "entries": entries,
                "questions": questions,
                "question_entry": question_entry,
                "idf": {t: round(v, 5) for t, v in idf.items()},
                "unseen_idf": unseen_idf,
                "lexicon": lexicon,
                "postings": dict(postings),
                "centroids": centroids,
                "intent_model": intent_model.train(vectors, question_entry),
            }
        )

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        data = {
            "format": FORMAT,
            "entries": self._entries,
            "questions": self._questions,
            "question_entry": self._question_entry,
            "idf": self._idf,
            "unseen_idf": self._unseen_idf,
            "lexicon": self._lexicon,
            "postings": self._postings,
            "centroids": self._centroids,
            "intent_model": self._model,
        }
        return zlib.compress(json.dumps(data, ensure_ascii=False).encode(), 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> KnowledgeIndex:
        data = json.loads(zlib.decompress(blob))
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported knowledge index format {data.get('format')!r}")
        return cls(data)

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ search
    def _query_vector(self, query: str) -> dict[str, float]:
        if self._segmenter is None:
            self._segmenter = Segmenter(self._lexicon)
        found, _ = analyse(query, self._segmenter)
        return _vector(Counter(found), self._idf, self._unseen_idf) if found else {}

    def search(self, query: str, k: int = 3) -> list[Hit]:
        qvec = self._query_vector(query)
        if not qvec:
            return []
        by_question: dict[int, float] = defaultdict(float)
        for t, w in qvec.items():
            posting = self._postings.get(t)
            # A term in a quarter of all questions adds little to any score but costs the most
            # to add up: it still counts in the query's length, not in the candidates' scores.
            if posting is not None and self._idf[t] >= self._common_idf:
                for q, dw in zip(*posting, strict=True):
                    by_question[q] += w * dw
        # Only the entries of the best few questions can rank: the rest are not scored.
        candidates = heapq.nlargest(CANDIDATES, by_question.items(), key=lambda item: item[1])
        chosen = {self._question_entry[q] for q, _ in candidates}
        intents = intent_model.predict(self._model, qvec) if self._model else {}
        if intents:
            chosen.add(max(intents, key=intents.__getitem__))
        scored = []
        for e in chosen:
            # Its best question, and the support of its best few (an entry whose several
            # paraphrases all match is likelier than one look-alike question) or its centroid.
            own = self._entry_questions[e]
            sims = sorted(((by_question[q], q) for q in own if q in by_question), reverse=True) or [
                (0.0, own[0])
            ]
            top, q = sims[0]
            support = sum(s for s, _ in sims[:NEIGHBOURS]) / min(NEIGHBOURS, len(own))
            centroid = self._centroids.get(str(e))
            if centroid is not None:
                support = max(support, sum(w * centroid.get(t, 0.0) for t, w in qvec.items()))
            score = (1 - SUPPORT_SHARE) * top + SUPPORT_SHARE * support
            if e in intents:
                score = (1 - MODEL_SHARE) * score + MODEL_SHARE * intents[e]
            scored.append((min(1.0, score), e, q))
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [Hit(self._entries[e], round(s, 4), self._questions[q]) for s, e, q in scored[:k]]
