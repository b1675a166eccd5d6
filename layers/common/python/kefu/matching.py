"""Building blocks shared by the rule matchers (routing rules, the bot's keyword rules).

- `KeywordAutomaton`: every keyword of every rule in ONE Aho-Corasick automaton (pyahocorasick),
  so one pass over a message finds all the keywords that occur in it, whatever the number of
  rules; the same trie answers "is this whole text a keyword" in one lookup.
- `in_weekly_window`: a weekday + time-of-day window, overnight windows included.
- `VersionedCache`: a compiled rule set per shop, kept while the shop's version is unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class KeywordAutomaton:
    """keyword -> payload (whatever the caller needs: rule indexes, usually). Keywords are added
    as given: callers normalise keywords and texts the same way before."""

    def __init__(self, entries: Mapping[str, Any]) -> None:
        self._automaton = None
        if entries:
            import ahocorasick  # deferred: only instances that match pay for the C extension

            automaton = ahocorasick.Automaton()
            for keyword, payload in entries.items():
                automaton.add_word(keyword, payload)
            automaton.make_automaton()
            self._automaton = automaton

    def __bool__(self) -> bool:
        return self._automaton is not None

    def iter(self, text: str) -> Iterator[tuple[int, Any]]:
        """(index of the keyword's last character, payload) for every occurrence in the text."""
        if self._automaton is not None and text:
            yield from self._automaton.iter(text)

    def get(self, text: str, default: Any = None) -> Any:
        """The payload of the keyword equal to the whole text (a trie lookup, not a scan)."""
        if self._automaton is None:
            return default
        return self._automaton.get(text, default)


def minutes(hhmm: str) -> int:
    """ "09:30" -> 570; "24:00" -> 1440."""
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_weekly_window(local: dt.datetime, weekdays: Container[int], start: int, end: int) -> bool:
    """Whether a local wall-clock time falls in [start, end) minutes on one of the ISO weekdays
    (Monday 1 ... Sunday 7). A window that ends before it starts runs past midnight
    ("22:00-06:00"): its early-morning part belongs to the previous day's window."""
    minute = local.hour * 60 + local.minute
    if start <= end:
        return local.isoweekday() in weekdays and start <= minute < end
    if minute >= start:  # the evening part of an overnight window: today counts
        return local.isoweekday() in weekdays
    if minute < end:  # the early-morning part belongs to yesterday's window
        return (local.isoweekday() - 2) % 7 + 1 in weekdays
    return False


class VersionedCache(Generic[T]):
    """One compiled value per key (a shop), rebuilt only when its version changes. Bounded: a
    few shops per Lambda instance; a new version simply replaces the old entry."""

    def __init__(self, max_entries: int = 64) -> None:
        self._entries: dict[str, tuple[int, T]] = {}
        self._max = max_entries

    def get(self, key: str, version: int, load: Callable[[], T]) -> T:
        hit = self._entries.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = load()
        if len(self._entries) >= self._max and key not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (version, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
