"""Every cache kefu keeps for the life of a warm Lambda instance, in one registry.

A module that caches what DynamoDB, S3, Secrets Manager or the environment said (profiles,
compiled rules, published indexes, clients bound to an endpoint) registers how to forget it.
Production never calls `clear_all`: an instance's caches end with the instance, and each cache
is keyed or timed so that it cannot serve stale data there. The tests call it before and after
each case, so every case starts as a cold instance would — one place to keep up to date, not a
list in the test support that forgets the newest cache. (The unit tests keep the boto3 clients,
which hold no data, from case to case: `keep`.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection

_clearers: dict[str, Callable[[], None]] = {}


def register(name: str, clear: Callable[[], None]) -> None:
    """`clear` forgets the cache called `name` (module-qualified; registering again replaces)."""
    _clearers[name] = clear


def clear_all(keep: Collection[str] = ()) -> None:
    """Forget every registered cache but those named in `keep`."""
    for name, clear in list(_clearers.items()):
        if name not in keep:
            clear()


def registered() -> list[str]:
    return sorted(_clearers)
