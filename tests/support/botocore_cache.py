"""Share botocore's parsed service models across sessions, for speed only.

kefu creates a boto3 Session per client and the tests reset kefu's clients for every test, so
each test would parse the same large service-model JSON files again (seconds per test). botocore
already caches these per Loader and never mutates them; this widens the cache to the process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.loaders import Loader

_CACHED = (
    "list_available_services",
    "determine_latest_version",
    "list_api_versions",
    "load_service_model",
    "load_data_with_path",
)
_cache: dict = {}


def _shared(name: str, original):
    @functools.wraps(original)
    def cached(self, *args, **kwargs):
        key = (name, tuple(self.search_paths), args, tuple(sorted(kwargs.items())))
        if key not in _cache:
            _cache[key] = original(self, *args, **kwargs)
        return _cache[key]

    return cached


@contextmanager
def shared_service_models() -> Iterator[None]:
    originals = {name: getattr(Loader, name) for name in _CACHED}
    for name, original in originals.items():
        setattr(Loader, name, _shared(name, original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(Loader, name, original)
