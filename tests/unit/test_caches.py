"""Specification: every module-level cache in kefu is registered with kefu.caches, so the tests
(and anything else that must start cold) forget it with one call."""

from __future__ import annotations

import ast
from pathlib import Path

KEFU = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "kefu"
# Caches of pure functions of their arguments (no AWS, no environment): nothing to forget.
# (The connection and the executor hold no data; the connection is keyed by its endpoint.)
PURE = {
    ("validation.py", "_rules"),  # the query-parameter rules shipped with the layer
    ("validation.py", "_param_type"),
    ("tickets/calendar.py", "zone"),
    ("retrieval/text.py", "full_segmenter"),
    ("workbench/context.py", "_executor"),
    ("storage/tx.py", "_connection"),
}


def _cached_functions() -> set[tuple[str, str]]:
    found = set()
    for path in KEFU.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    name = deco.func if isinstance(deco, ast.Call) else deco
                    if isinstance(name, ast.Name) and name.id in {"cache", "lru_cache"}:
                        found.add((str(path.relative_to(KEFU)), node.name))
    return found


def test_every_cached_function_is_registered_or_pure():
    unregistered = []
    for module, function in sorted(_cached_functions() - PURE):
        text = (KEFU / module).read_text(encoding="utf-8")
        if f"{function}.cache_clear)" not in text:
            unregistered.append(f"{module}:{function}")
    assert unregistered == []


def test_the_test_support_clears_the_registry():
    from kefu import caches
    from kefu.routing import rules

    from tests.support.aws import reset_kefu_caches

    rules._CACHE.get("shop-x", 1, lambda: "compiled")
    reset_kefu_caches()
    assert rules._CACHE.get("shop-x", 1, lambda: "fresh") == "fresh"
    assert "kefu.routing.rules" in caches.registered()
