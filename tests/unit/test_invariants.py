"""Code health: each invariant has one home. Index copies (a conversation's or ticket's
`shop_status`) and key strings ("<shop>#<x>") are written only in kefu.storage, next to the
models that own them; every other module calls their builders."""

import ast
import re
from pathlib import Path

KEFU = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "kefu"

# `shop_status` written: .set(...)/.remove(), `shop_status=...` (a model's constructor, an
# assignment) or a "shop_status": key in a dict of attributes.
SHOP_STATUS_WRITE = re.compile(r"shop_status(\.set\(|\.remove\(|\s*=(?!=)|[\"']\s*:)")
# An f-string with a "#" next to a replacement field: "{shop}#{x}", "PREFIX#{id}".
KEY_FSTRING = re.compile(r"\bf([\"'])[^\"'\n]*(\}#|#\{)[^\"'\n]*\1")

# Lines that match but are no index copy or key, each with the reason.
SHOP_STATUS_ALLOWED = {
    # An order's shop_status is the shop's own label (待发货) copied into the order's public
    # form: a read, and no index copy of a status.
    ("orders/__init__.py", '"shop_status": o.shop_status,'),
}
KEY_ALLOWED = {
    # Checks that a cursor's key values belong to the shop (a prefix test): no key is built.
    ("pagination.py", 'v.startswith(f"{shop_id}#")'),
    # A message to the customer: "#" before the ticket's short id is text.
    ("tickets/notifier.py", 'f"您的工单 #{short_id}「{subject}」已处理完成"'),
}


def _offenders(pattern: re.Pattern[str], allowed: set[tuple[str, str]]) -> list[str]:
    found = []
    for path in sorted(KEFU.rglob("*.py")):
        rel = path.relative_to(KEFU).as_posix()
        if rel.startswith("storage/"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and not any(
                rel == file and snippet in line for file, snippet in allowed
            ):
                found.append(f"{rel}:{n}: {line.strip()}")
    return found


def test_only_storage_writes_shop_status():
    assert _offenders(SHOP_STATUS_WRITE, SHOP_STATUS_ALLOWED) == []


def test_only_storage_formats_a_key():
    assert _offenders(KEY_FSTRING, KEY_ALLOWED) == []


def test_the_patterns_catch_what_they_are_for():
    # The checks above pass only if they could fail: each pattern matches the old code's forms.
    writes = [
        'Conversation.shop_status.set(f"{shop}#queued"),',
        'shop_status=f"{msg.shop_id}#{status}",',
        '"shop_status": f"{shop_id}#{state["status"]}",',
        "conv.shop_status = key",
    ]
    assert all(SHOP_STATUS_WRITE.search(w) for w in writes)
    assert not SHOP_STATUS_WRITE.search('if conv.shop_status == "s1#queued":')
    keys = [
        'Message(f"{shop_id}#{data["conversation_id"]}", key)',
        "f'{shop}#staff'",
        'f"ORDER#{order_id}"',
        'f"{at:013d}#{audit_id}"',
    ]
    assert all(KEY_FSTRING.search(k) for k in keys)
    assert not KEY_FSTRING.search('f"{method} {path} answered HTTP {status}"')
    assert not KEY_FSTRING.search('"#".join(parts)  # f"{x}" in a comment')


def test_the_allow_lists_name_lines_that_exist():
    # A stale entry would silently allow a new offender on a line that happens to match.
    for file, snippet in SHOP_STATUS_ALLOWED | KEY_ALLOWED:
        assert snippet in (KEFU / file).read_text(encoding="utf-8"), (file, snippet)


def test_assignment_does_not_import_routing():
    # Routing calls assignment (router, admin); the types both need (QueueId) sit below both, in
    # kefu.storage.workbench, so the dependency runs one way.
    offenders = []
    for path in sorted((KEFU / "assignment").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("kefu.routing")]
    assert offenders == []
