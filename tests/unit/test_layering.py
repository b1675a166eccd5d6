"""Specification: the import rules of docs/architecture.md hold — functions are thin adapters over
the kefu layer, storage sits below every capability, the foundation below storage, and nothing
deployed imports the local tooling."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEFU = ROOT / "layers" / "common" / "python" / "kefu"
FOUNDATION = {
    "caches",
    "config",
    "aws",
    "errors",
    "ids",
    "validation",
    "pagination",
    "secrets",
    "events",
    "events_catalog",
    "consumers",
    "matching",
    "media",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kefu":
                names.update(f"kefu.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def _kefu_part(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "kefu" and len(parts) > 1 else None


def _layer_modules(folder: str) -> list[Path]:
    return sorted((KEFU / folder).rglob("*.py"))


def test_functions_import_the_kefu_layer_and_never_each_other_or_the_tooling():
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "functions").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in {"functions", "infra", "tests"}
    }
    assert not offenders


def test_storage_imports_no_capability_package():
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _layer_modules("storage")
        for name in _imports(path)
        if (part := _kefu_part(name)) and part != "storage" and part not in FOUNDATION
    }
    assert not offenders


def test_the_foundation_imports_only_the_foundation():
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for module in FOUNDATION
        for path in [KEFU / f"{module}.py"]
        for name in _imports(path)
        if (part := _kefu_part(name)) and part not in FOUNDATION
    }
    assert not offenders


def test_nothing_deployed_imports_the_local_tooling_or_the_tests():
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in KEFU.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in {"infra", "tests", "functions", "moto"}
    }
    assert not offenders


def test_only_functions_import_the_http_glue():
    offenders = {
        f"{path.relative_to(ROOT)}: kefu.http"
        for path in KEFU.rglob("*.py")
        if path != KEFU / "http.py" and "kefu.http" in _imports(path)
    }
    assert not offenders
