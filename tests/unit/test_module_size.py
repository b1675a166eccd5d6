"""Code health: no long module in kefu/ without a written reason, and no module outside
kefu.storage reading pynamodb's private transaction state (kefu.storage.tx has a public API)."""

import re
from pathlib import Path

KEFU = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "kefu"
LIMIT = 500  # lines
REASON = re.compile(r"longer than \d+ lines because|over \d+ lines because", re.IGNORECASE)
PRIVATE_TX = re.compile(r"\._(condition_check|delete|put|update)_items\b")


def test_a_module_over_the_limit_says_why_at_its_top():
    unexplained = []
    for path in sorted(KEFU.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LIMIT and not REASON.search(text[:1500]):
            unexplained.append(str(path.relative_to(KEFU)))
    assert unexplained == []


def test_no_module_outside_storage_reads_pynamodbs_private_transaction_lists():
    offenders = [
        str(path.relative_to(KEFU))
        for path in sorted(KEFU.rglob("*.py"))
        if path.parent.name != "storage" and PRIVATE_TX.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
