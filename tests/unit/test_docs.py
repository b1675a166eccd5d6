"""Specification: the documents a newcomer reads first describe what the code and the template
hold, so they cannot drift silently."""

from __future__ import annotations

import re
from pathlib import Path

from infra.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = {6: "Six", 7: "Seven", 8: "Eight", 9: "Nine", 10: "Ten", 11: "Eleven", 12: "Twelve"}
NUMBERS |= {13: "Thirteen", 14: "Fourteen", 15: "Fifteen", 16: "Sixteen"}


def _template_tables() -> set[str]:
    resources = load_yaml(ROOT / "template.yaml")["Resources"]
    return {name for name, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}


def test_the_data_model_documents_every_table_of_the_template():
    text = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (\w+Table)\b", text, flags=re.MULTILINE))
    assert documented == _template_tables()


def test_the_data_model_counts_the_tables_it_documents():
    text = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    count = len(_template_tables())
    assert text.splitlines()[2].startswith(f"{NUMBERS.get(count, count)} DynamoDB tables")


def test_the_architecture_document_names_every_capability_package():
    kefu = ROOT / "layers" / "common" / "python" / "kefu"
    packages = {p.name for p in kefu.iterdir() if (p / "__init__.py").exists()}
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = {name for name in packages if f"`{name}`" not in text}
    assert not missing, f"docs/architecture.md does not place these packages: {sorted(missing)}"
