"""A knowledge base's own intent model, trained at publish from its entries' similar questions.

Where an entry has several phrasings (a standard question and similar questions), they are
labelled examples of one intent: a multinomial logistic regression over the same TF-IDF vectors
the index uses learns which words tell the entries apart ("order" says little; "cancel" says
much) better than any single nearest question. Its probability is blended into the entry's
score (index.py). Entries with fewer phrasings are left to the nearest-question ranking.

Pure Python, sparse, deterministic (fixed seed and order), bounded: at most MAX_CLASSES entries
and MAX_SAMPLES questions, else no model is trained and ranking works as without one. Stored in
the index as term -> [[class...], [weight...]] so a query touches only its own terms' weights.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

MIN_QUESTIONS = 3  # phrasings an entry needs to be one of the model's intents
MAX_CLASSES = 300
MAX_SAMPLES = 6000
EPOCHS = 12
LEARNING_RATE = 1.0
L2 = 1e-4
PRUNE = 1e-3  # weights smaller than this are dropped from the stored model


def _softmax(z: list[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


def train(vectors: list[dict[str, float]], entries: list[int]) -> dict | None:
    """vectors[i] is question i's unit TF-IDF vector, entries[i] its entry index."""
    counts: dict[int, int] = defaultdict(int)
    for e in entries:
        counts[e] += 1
    classes = sorted(e for e, n in counts.items() if n >= MIN_QUESTIONS)
    if len(classes) < 2 or len(classes) > MAX_CLASSES:
        return None
    position = {e: c for c, e in enumerate(classes)}
    samples = [(v, position[e]) for v, e in zip(vectors, entries, strict=True) if e in position]
    if len(samples) > MAX_SAMPLES:
        return None
    n_classes = len(classes)
    weights: dict[str, dict[int, float]] = defaultdict(dict)  # term -> class -> weight
    bias = [0.0] * n_classes
    order = list(range(len(samples)))
    rng = random.Random(0)
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for i in order:
            x, gold = samples[i]
            z = bias[:]
            for t, v in x.items():
                for c, w in weights.get(t, {}).items():
                    z[c] += w * v
            p = _softmax(z)
            p[gold] -= 1.0
            for c, g in enumerate(p):
                if -1e-4 < g < 1e-4:
                    continue
                step = LEARNING_RATE * g
                bias[c] -= step
                for t, v in x.items():
                    row = weights[t]
                    row[c] = row.get(c, 0.0) - step * v
        decay = 1.0 - LEARNING_RATE * L2
        for row in weights.values():
            for c in row:
                row[c] *= decay
    stored: dict[str, list[list]] = {}
    for t, row in weights.items():
        kept = [(c, round(w, 4)) for c, w in sorted(row.items()) if abs(w) >= PRUNE]
        if kept:
            stored[t] = [[c for c, _ in kept], [w for _, w in kept]]
    return {"classes": classes, "bias": [round(b, 4) for b in bias], "weights": stored}


def predict(model: dict, qvec: dict[str, float]) -> dict[int, float]:
    """Entry index -> probability, over the model's intents."""
    z = list(model["bias"])
    weights = model["weights"]
    for t, v in qvec.items():
        row = weights.get(t)
        if row is not None:
            for c, w in zip(*row, strict=True):
                z[c] += w * v
    return dict(zip(model["classes"], _softmax(z), strict=True))
