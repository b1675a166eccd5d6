"""Comparing the speed of two ways over the same inputs in one run, on a shared machine."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Hashable


def alternating_rounds(
    runs: dict[Hashable, Callable[[], object]], items: int, rounds: int
) -> dict[Hashable, list[float]]:
    """µs per item of each run, one figure a round. Rounds alternate between the runs, with the
    collector paused, so drift on the machine (and garbage from building the inputs) lands on
    all of them alike."""
    per_round: dict[Hashable, list[float]] = {key: [] for key in runs}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for key, run in runs.items():
                t = time.perf_counter()
                run()
                per_round[key].append((time.perf_counter() - t) / items * 1e6)
    finally:
        gc.enable()
    return per_round


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median of each round's ratio: robust to load changing between rounds."""
    return round(statistics.median(n / d for d, n in zip(denominator, numerator, strict=True)), 3)
