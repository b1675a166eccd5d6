"""The bot's answer quality and speed on public question sets: `make bench-bot`.

The sets live outside the product, in ../shared/data/faq (its README says what each is); nothing
from them is in the product, its dictionaries or its tests. For each set a knowledge base is built
exactly as a shop's is published (KnowledgeIndex.build), then queried as the bot queries it.

- AFQMC (Chinese, Alipay): the entries are every first sentence of the dev pairs (4,313, among
  them the hard near-misses of the negative pairs); the queries are the second sentences of the
  positive pairs. Top-1: the entry of the query's pair comes first.
- HINT3 Curekart (English): one entry per intent, its training examples as its questions; the
  held-out test queries, in scope (top-1) and out of scope (must not be answered).
- SMP2019 (Chinese, voice-assistant queries): all out of scope against the AFQMC knowledge base.
- HINT3 SOFMattress (English, training set only): 5-fold cross-validation, each fifth of the
  examples queried against a knowledge base built from the other four fifths.

"Answered at 80%": the confidence threshold at which 80% of the set's in-scope queries are
answered (the 20th percentile of their top scores); the out-of-scope rate is the share of
out-of-scope queries whose top score reaches it. The product's own default thresholds
(kefu.retrieval.Thresholds) are reported beside it: answer / suggest / hand off shares.
Latency: search + decide, warm, on a 5,000-entry knowledge base, p50 and p95.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_PY = ROOT / "layers" / "common" / "python"
if str(LAYER_PY) not in sys.path:
    sys.path.insert(0, str(LAYER_PY))

from kefu.retrieval import Document, KnowledgeIndex, Thresholds, decide  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "faq"
ANSWER_RATE = 0.80


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[pos]


def afqmc(data: Path) -> tuple[list[Document], list[tuple[str, str]], list[str]]:
    rows = [json.loads(line) for line in (data / "afqmc" / "dev.jsonl").open(encoding="utf-8")]
    ids: dict[str, str] = {}
    for row in rows:
        ids.setdefault(row["sentence1"], f"e{len(ids)}")
    docs = [Document(entry_id, (text,)) for text, entry_id in ids.items()]
    queries = [(r["sentence2"], ids[r["sentence1"]]) for r in rows if r["label"] == "1"]
    extra = [r["sentence2"] for r in rows if r["label"] == "0"]
    return docs, queries, extra


def _csv(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [(r["sentence"], r["label"]) for r in csv.DictReader(f)]


def _intent_docs(rows: list[tuple[str, str]]) -> list[Document]:
    by_label: dict[str, list[str]] = {}
    for sentence, label in rows:
        by_label.setdefault(label, []).append(sentence)
    return [Document(label, tuple(qs)) for label, qs in by_label.items()]


def evaluate(
    index: KnowledgeIndex, in_scope: list[tuple[str, str]], out_of_scope: list[str]
) -> dict:
    tops = []
    correct = 0
    outcomes: Counter = Counter()
    right_answers = 0
    for query, gold in in_scope:
        hits = index.search(query, k=3)
        top = hits[0] if hits else None
        tops.append(top.score if top else 0.0)
        correct += bool(top and top.entry_id == gold)
        decision = decide(hits)
        outcomes[decision.outcome] += 1
        right_answers += decision.outcome == "answer" and decision.hits[0].entry_id == gold
    threshold = _percentile(tops, 1 - ANSWER_RATE)
    out: dict = {
        "in-scope queries": len(in_scope),
        "top-1 accuracy": round(correct / max(1, len(in_scope)), 3),
        "threshold at 80% answered": round(threshold, 3),
    }
    oos_tops = []
    oos_outcomes: Counter = Counter()
    for query in out_of_scope:
        hits = index.search(query, k=3)
        oos_tops.append(hits[0].score if hits else 0.0)
        oos_outcomes[decide(hits).outcome] += 1
    if out_of_scope:
        answered = sum(s >= threshold for s in oos_tops)
        out["out-of-scope queries"] = len(out_of_scope)
        out["out-of-scope answered at 80%"] = round(answered / len(out_of_scope), 3)
    n = max(1, len(in_scope))
    out["default thresholds, in scope: answer/suggest/handoff"] = "/".join(
        f"{outcomes[o] / n:.2f}" for o in ("answer", "suggest", "handoff")
    )
    out["default thresholds, in scope: answered correctly"] = round(right_answers / n, 3)
    if out_of_scope:
        m = len(out_of_scope)
        out["default thresholds, out of scope: answer/suggest/handoff"] = "/".join(
            f"{oos_outcomes[o] / m:.2f}" for o in ("answer", "suggest", "handoff")
        )
    return out


def latency(docs: list[Document], queries: list[str], entries: int = 5000) -> dict:
    kb = docs[:entries]
    started = time.perf_counter()
    index = KnowledgeIndex.build(kb)
    built = time.perf_counter() - started
    blob = index.to_bytes()
    started = time.perf_counter()
    index = KnowledgeIndex.from_bytes(blob)
    loaded = time.perf_counter() - started
    for query in queries[:50]:  # warm: the lexicon's segmenter is built on the first query
        decide(index.search(query))
    times = []
    for query in queries:
        t0 = time.perf_counter()
        decide(index.search(query))
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "entries": len(index),
        "build (publish), s": round(built, 2),
        "index size, KB": len(blob) // 1024,
        "load from bytes, ms": round(loaded * 1000),
        "reply compute p50, ms": round(statistics.median(times), 2),
        "reply compute p95, ms": round(_percentile(times, 0.95), 2),
    }


def report(data: Path = DATA) -> dict:
    out: dict = {}
    docs, queries, extra = afqmc(data)
    smp = [
        line.strip()
        for line in (data / "smp2019" / "out_of_scope.txt").open(encoding="utf-8")
        if line.strip()
    ]
    index = KnowledgeIndex.build(docs)
    out["AFQMC (zh), SMP2019 out of scope"] = evaluate(index, queries, smp)
    train = _csv(data / "hint3" / "curekart_train.csv")
    test = _csv(data / "hint3" / "curekart_test.csv")
    started = time.perf_counter()
    index = KnowledgeIndex.build(_intent_docs(train))
    out["HINT3 Curekart: publish (build incl. intent model), s"] = round(
        time.perf_counter() - started, 1
    )
    out["HINT3 Curekart (en)"] = evaluate(
        index,
        [(s, label) for s, label in test if label != "NO_NODES_DETECTED"],
        [s for s, label in test if label == "NO_NODES_DETECTED"],
    )
    sof = _csv(data / "hint3" / "sofmattress_train.csv")
    correct = 0
    for fold in range(5):
        kb = [row for i, row in enumerate(sof) if i % 5 != fold]
        index = KnowledgeIndex.build(_intent_docs(kb))
        for sentence, label in (row for i, row in enumerate(sof) if i % 5 == fold):
            hits = index.search(sentence, k=1)
            correct += bool(hits and hits[0].entry_id == label)
    out["HINT3 SOFMattress (en), 5-fold top-1"] = round(correct / len(sof), 3)
    pool = docs + [Document(f"x{i}", (s,)) for i, s in enumerate(extra)]
    out["latency, 5,000-entry knowledge base"] = latency(pool, [q for q, _ in queries])
    out["default thresholds"] = vars(Thresholds())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no question sets at {args.data}: nothing to measure", file=sys.stderr)
        return 2
    print(json.dumps(report(args.data), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
