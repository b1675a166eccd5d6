"""From a ranking to the bot's outcome: answer, suggest ("您是不是想问…"), or hand off.

The default thresholds come from the bot benchmark (`make bench-bot`, docs/bot-retrieval.md):
`answer` is where about 80% of in-scope questions are answered; `suggest` is lower, for a choice
of up to three entries the customer can tap. A shop can override both in its bot settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kefu.retrieval.index import Hit

Outcome = Literal["answer", "suggest", "handoff"]


@dataclass(frozen=True)
class Thresholds:
    answer: float = 0.55
    suggest: float = 0.30
    # An answer also needs a lead over the runner-up entry: two near-equal entries are a
    # question the customer should choose between, not one the bot should guess.
    margin: float = 0.02


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    hits: list[Hit] = field(default_factory=list)


def decide(hits: list[Hit], thresholds: Thresholds | None = None) -> Decision:
    t = thresholds or Thresholds()
    if not hits or hits[0].score < t.suggest:
        return Decision("handoff", hits[:3])
    top = hits[0]
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    if top.score >= t.answer and top.score - runner_up >= t.margin:
        return Decision("answer", [top])
    return Decision("suggest", [h for h in hits[:3] if h.score >= t.suggest])


def merge_hits(*hit_lists: list[Hit], k: int = 3) -> list[Hit]:
    """Shop and platform results in one ranking (scores are comparable confidences)."""
    merged = sorted((h for hits in hit_lists for h in hits), key=lambda h: (-h.score, h.entry_id))
    return merged[:k]
