"""Specification: the audit trail is append-only (no code path can overwrite, update or delete a
record) and reads filter by actor, action, target and time without a Scan, rejecting unknown
values with 400."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from kefu import audit
from kefu.audit import audit_record, list_audit
from kefu.errors import BadRequest
from kefu.storage.audit import AuditRecord
from kefu.storage.tx import write_transaction
from pynamodb.exceptions import PutError, TransactWriteError

from tests.support.factories import make_shop

SHOP = "shop-a"
T0 = 1_700_000_000_000
LAYER = Path(__file__).resolve().parents[3] / "layers" / "common" / "python" / "kefu"


def _record(action="staff.updated", actor="staff:boss", target=("staff", "alice"), at=T0):
    return audit_record(
        shop_id=SHOP,
        actor=actor,
        actor_role="owner",
        action=action,
        target_type=target[0],
        target_id=target[1],
        at_ms=at,
    )


def test_a_record_cannot_be_overwritten_by_a_put_or_in_a_transaction(kefu_env):
    record = _record()
    record.save()
    forged = AuditRecord(
        SHOP,
        record.audit_key,
        **{
            k: getattr(record, k)
            for k in (
                "audit_id",
                "at",
                "actor",
                "action",
                "target_type",
                "target_id",
                "shop_target",
            )
        },
    )
    forged.action = "staff.created"
    with pytest.raises(PutError):
        forged.save()
    with pytest.raises(TransactWriteError), write_transaction() as tx:
        tx.save(forged)
    assert AuditRecord.get(SHOP, record.audit_key).action == "staff.updated"


def test_no_code_path_updates_or_deletes_a_record(kefu_env):
    record = _record()
    record.save()
    with pytest.raises(TypeError):
        record.update(actions=[AuditRecord.action.set("x")])
    with pytest.raises(TypeError):
        record.delete()
    with pytest.raises(TypeError), write_transaction() as tx:
        tx.update(record, [AuditRecord.action.set("x")])
    with pytest.raises(TypeError), write_transaction() as tx:
        tx.delete(record)
    with pytest.raises(TypeError):
        AuditRecord.batch_write()
    assert AuditRecord.get(SHOP, record.audit_key).action == "staff.updated"


def test_every_target_type_written_in_the_code_is_one_the_api_can_filter_on():
    # target_type="..." keywords, and the positional type of the two audit helpers that take
    # it positionally: routing.admin._audit(actor, action, TYPE, ...) and
    # knowledge.common.audit(actor, scope, action, TYPE, ...).
    positional = {("routing", "_audit"): 2, ("knowledge", "audit"): 3}
    written = set()
    for path in LAYER.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'target_type="([a-z_]+)"', source))
        for node in ast.walk(ast.parse(source)):
            name = getattr(getattr(node, "func", None), "id", None) or getattr(
                getattr(node, "func", None), "attr", None
            )
            key = (path.parent.name, name)
            if isinstance(node, ast.Call) and key in positional:
                index = positional[key]
                if len(node.args) > index and isinstance(node.args[index], ast.Constant):
                    written.add(node.args[index].value)
    assert written, "the scan found no audit target types"
    assert written <= audit.TARGET_TYPES, written - audit.TARGET_TYPES


@pytest.fixture
def trail(kefu_env):
    make_shop(SHOP)
    rows = [
        _record("staff.login", "staff:alice", ("staff", "alice"), T0),
        _record("staff.role_changed", "staff:boss", ("staff", "alice"), T0 + 1000),
        _record("conversation.claimed", "staff:alice", ("conversation", "c1"), T0 + 2000),
        _record("staff.login", "staff:bob", ("staff", "bob"), T0 + 3000),
        _record("conversation.claimed", "staff:bob", ("conversation", "c2"), T0 + 4000),
    ]
    for r in rows:
        r.save()
    return rows


def _ids(records):
    return [(r["action"], r["actor"], r["target_id"]) for r in records]


def test_filters_combine_newest_first(trail):
    by_actor, _ = list_audit(SHOP, actor="staff:alice")
    assert _ids(by_actor) == [
        ("conversation.claimed", "staff:alice", "c1"),
        ("staff.login", "staff:alice", "alice"),
    ]
    by_action, _ = list_audit(SHOP, action="staff.login")
    assert [r["actor"] for r in by_action] == ["staff:bob", "staff:alice"]
    by_target, _ = list_audit(SHOP, target_type="staff", target_id="alice")
    assert [r["action"] for r in by_target] == ["staff.role_changed", "staff.login"]
    by_type, _ = list_audit(SHOP, target_type="conversation")
    assert [r["target_id"] for r in by_type] == ["c2", "c1"]
    window, _ = list_audit(SHOP, from_ms=T0 + 1000, to_ms=T0 + 3000)
    assert [r["at"] for r in window] == [T0 + 3000, T0 + 2000, T0 + 1000]
    both, _ = list_audit(SHOP, actor="staff:bob", action="staff.login", from_ms=T0 + 3000)
    assert _ids(both) == [("staff.login", "staff:bob", "bob")]
    target_in_time, _ = list_audit(SHOP, target_type="staff", target_id="alice", from_ms=T0 + 500)
    assert [r["action"] for r in target_in_time] == ["staff.role_changed"]


def test_a_filtered_read_pages_with_a_cursor_and_never_repeats(trail):
    first, cursor = list_audit(SHOP, action="conversation.claimed", limit=1)
    assert cursor
    second, cursor2 = list_audit(SHOP, action="conversation.claimed", limit=1, cursor=cursor)
    assert [r["target_id"] for r in first + second] == ["c2", "c1"]
    assert cursor2 is None


def test_a_filtered_page_reads_a_bounded_number_of_records(trail, monkeypatch):
    monkeypatch.setattr(audit, "MAX_EVALUATED", 2)
    # The two newest records are bob's: the page stops after reading them, with a cursor.
    found, cursor = list_audit(SHOP, actor="staff:alice", limit=5)
    assert (found, cursor is not None) == ([], True)
    pages = 1
    while cursor:
        page, cursor = list_audit(SHOP, actor="staff:alice", limit=5, cursor=cursor)
        found += page
        pages += 1
    assert [r["target_id"] for r in found] == ["c1", "alice"]
    assert pages == 3  # 5 records, at most 2 read per page


def test_reads_never_scan(trail, monkeypatch):
    monkeypatch.setattr(AuditRecord, "scan", lambda *a, **k: pytest.fail("Scan"))
    list_audit(SHOP, actor="staff:alice")
    list_audit(SHOP, target_type="conversation")


@pytest.mark.parametrize(
    "filters, code",
    [
        ({"target_type": "AAA"}, "invalid_target_type"),
        ({"target_id": "alice"}, "target_type_required"),
        ({"action": "DROP TABLE"}, "invalid_action"),
        ({"actor": "root"}, "invalid_actor"),
        ({"from_ms": T0 + 10, "to_ms": T0}, "invalid_time"),
    ],
)
def test_unknown_or_malformed_filters_are_a_400(kefu_env, filters, code):
    with pytest.raises(BadRequest) as err:
        list_audit(SHOP, **filters)
    assert err.value.code == code
