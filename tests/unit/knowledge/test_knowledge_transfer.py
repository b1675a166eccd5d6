"""Specification: bulk import and export of entries as CSV and XLSX — what is exported imports
back to the same entries; every row is checked before anything is written, and errors name
their row."""

import base64
import csv
import io
from datetime import datetime

import pytest
from kefu.audit import list_audit
from kefu.errors import BadRequest, Conflict, Forbidden
from kefu.knowledge import entries, transfer
from kefu.knowledge.publish import get_head
from kefu.knowledge.transfer import KbImport

from tests.unit.knowledge.conftest import new_entry, text

HEADER = [
    "question",
    "similar_questions",
    "answer",
    "category",
    "tags",
    "enabled",
    "valid_from",
    "valid_until",
    "entry_id",
]


def csv_file(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_file(rows, header=HEADER) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def do_import(actor, data: bytes, fmt="csv", scope=None):
    req = KbImport(format=fmt, content_base64=base64.b64encode(data).decode())
    return transfer.import_entries(actor, scope, req)


def comparable(entry: dict) -> dict:
    keep = ("entry_id", *entries.CONTENT_FIELDS)
    return {k: entry[k] for k in keep}


def all_entries(actor, scope=None) -> list[dict]:
    return sorted(
        (comparable(e) for e in entries.list_entries(actor, scope, limit=100)[0]),
        key=lambda e: e["entry_id"],
    )


@pytest.fixture
def knowledge(staff):
    """Entries of every shape an export must carry: rich answers, validity, disabled, tags."""
    sup = staff["sup"]
    rich = [
        {"type": "text", "content": "请看这个页面"},
        {
            "type": "miniprogrampage",
            "title": "申请售后",
            "pagepath": "pages/aftersale/index?from=kefu",
            "thumb_media_id": "THUMB_1",
        },
    ]
    entries.create_entry(
        sup, None, new_entry("怎么退货？", "如何退货", "退货流程 | 步骤", rich=rich)
    )
    entries.create_entry(
        sup,
        None,
        new_entry(
            "双十一有什么活动",
            "双11优惠",
            answer='全场满 300 减 50，"限时"\n第二行',
            category="活动",
            tags=["促销", "双十一"],
            valid_from=1731340800000,
            valid_until=1731427200123,
        ),
    )
    entries.create_entry(
        sup,
        None,
        new_entry("=SUM(A1) 是什么", "A|B 是什么", answer="[重要] 不是公式", enabled=False),
    )
    return all_entries(sup)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_to_the_same_entries(staff, knowledge, fmt):
    exported = transfer.export_entries(staff["agent"], None, fmt)
    assert exported["format"] == fmt and exported["entry_count"] == 3
    assert exported["filename"].startswith("knowledge-shop-a-") and exported["filename"].endswith(
        f".{fmt}"
    )
    data = base64.b64decode(exported["content_base64"])

    # Into the same shop: nothing changes, no revision is written.
    again = do_import(staff["sup"], data, fmt)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert all_entries(staff["sup"]) == knowledge

    # Into another shop: the same entries, with the same ids.
    moved = do_import(staff["other"], data, fmt)
    assert moved["created"] == 3
    assert all_entries(staff["other"]) == knowledge


def test_a_csv_export_is_utf8_with_a_bom_and_readable_columns(staff, knowledge):
    data = base64.b64decode(transfer.export_entries(staff["sup"], None, "csv")["content_base64"])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    by_question = {r["question"]: r for r in rows}
    assert list(rows[0]) == HEADER
    sale = by_question["双十一有什么活动"]
    assert sale["tags"] == "促销|双十一"
    assert sale["valid_from"] == "2024-11-12 00:00:00"  # Beijing time
    assert sale["valid_until"] == "2024-11-13 00:00:00.123"
    # A cell a spreadsheet would run as a formula is text (OWASP CSV injection).
    assert by_question["'=SUM(A1) 是什么"]["enabled"] == "false"
    assert by_question["怎么退货？"]["similar_questions"] == "如何退货\n退货流程 | 步骤"


def test_an_import_creates_entries_from_a_spreadsheet_and_audits_them(staff):
    data = xlsx_file(
        [
            [
                "怎么退货",
                "如何退货|退货流程|能退吗",
                "7 天无理由",
                "售后",
                "退货|售后",
                "是",
                None,
                datetime(2025, 6, 1, 12, 0),  # a date cell: Beijing time
            ],
            [None] * 8,  # a blank row is skipped but still counts in the row numbers
            [
                "运费多少",
                "包邮吗\r\n运费怎么算",
                "满 99 包邮",
                None,
                None,
                None,
                "2025-01-01",
                "2025-12-31 23:59",
            ],
        ]
    )
    result = do_import(staff["sup"], data, "xlsx")
    assert (result["rows"], result["created"]) == (2, 2)
    assert [(r["row"], r["outcome"]) for r in result["entries"]] == [
        (2, "created"),
        (4, "created"),
    ]
    made = {e["question"]: e for e in entries.list_entries(staff["sup"], None)[0]}
    assert made["怎么退货"]["valid_until"] == 1748750400000  # 2025-06-01 12:00 +08:00
    assert made["怎么退货"]["similar_questions"] == ["如何退货", "退货流程", "能退吗"]
    assert made["怎么退货"]["tags"] == ["退货", "售后"]
    assert made["怎么退货"]["answer"] == text("7 天无理由")
    assert made["运费多少"]["similar_questions"] == ["包邮吗", "运费怎么算"]
    assert made["运费多少"]["valid_from"] == 1735660800000  # 2025-01-01 00:00 +08:00
    assert made["运费多少"]["enabled"] is True
    versions, _ = entries.list_versions(
        staff["sup"], None, made["运费多少"]["entry_id"], limit=5, cursor=None
    )
    assert [v["action"] for v in versions] == ["imported"]
    head = get_head(staff["sup"], None)
    assert (head["entry_total"], head["unpublished_changes"]) == (2, True)
    records, _ = list_audit("shop-a", target=("kb", "shop-a"))
    assert records[0]["action"] == "knowledge.entries_imported"
    assert sorted(records[0]["after"]["created"]) == sorted(e["entry_id"] for e in made.values())


def test_a_row_without_an_id_updates_the_entry_with_the_same_question(staff):
    sup = staff["sup"]
    eid = entries.create_entry(sup, None, new_entry("多久发货", answer="三天内"))["entry_id"]
    result = do_import(
        sup,
        csv_file([["多久发货", "", "当天发", "", "", "", "", "", ""]]),
    )
    assert result["entries"] == [{"row": 2, "entry_id": eid, "outcome": "updated"}]
    entry = entries.get_entry(sup, None, eid)
    assert (entry["answer"], entry["revision"]) == (text("当天发"), 2)


def test_chinese_headers_and_gb18030_files_are_understood(staff):
    data = csv_file([["怎么退货", "七天无理由"]], header=["问题", "答案"], encoding="gb18030")
    result = do_import(staff["sup"], data)
    assert result["created"] == 1
    assert entries.list_entries(staff["sup"], None)[0][0]["answer"] == text("七天无理由")


def test_every_bad_row_is_reported_by_number_and_nothing_is_written(staff):
    sup = staff["sup"]
    rows = [
        ["怎么退货", "", "七天无理由", "", "", "", "", "", ""],  # row 2: fine
        ["", "", "没有问题", "", "", "", "", "", ""],  # row 3
        ["运费", "", "", "", "", "", "", "", ""],  # row 4
        ["活动", "", "有", "", "", "maybe", "明天", "", "kb_123"],  # row 5
        ["怎么退货", "", "重复的问题", "", "", "", "", "", ""],  # row 6
        ["x" * 201, "", "太长", "", "", "", "", "", ""],  # row 7
        ["图片", "", '[{"type": "image"}]', "", "", "", "", "", ""],  # row 8
        ["窗口", "", "反了", "", "", "", "2025-02-01", "2025-01-01", ""],  # row 9
    ]
    with pytest.raises(BadRequest) as raised:
        do_import(sup, csv_file(rows))
    error = raised.value
    assert error.code == "invalid_import"
    found = {(e["row"], e["column"]) for e in error.details["errors"]}
    assert {
        (3, "question"),
        (4, "answer"),
        (5, "enabled"),
        (5, "valid_from"),
        (5, "entry_id"),
        (7, "question"),
        (8, ""),
        (9, ""),
    } <= found
    assert 2 not in {row for row, _ in found}
    assert "nothing was imported" in error.message
    # Row 6 repeats row 2's question: found once the other rows are right.
    with pytest.raises(BadRequest) as raised:
        do_import(sup, csv_file([rows[0], rows[4]]))
    assert raised.value.details["errors"] == [
        {"row": 3, "column": "question", "message": "the same question as row 2"}
    ]
    assert entries.list_entries(sup, None)[0] == []
    assert get_head(sup, None)["draft_revision"] == 0


@pytest.mark.parametrize(
    "data, fmt, message",
    [
        (b"", "csv", "no header"),
        (csv_file([], header=["question", "answer"]), "csv", "no rows"),
        (csv_file([["a", "b"]], header=["question", "reply"]), "csv", "unknown column"),
        (csv_file([["a"]], header=["question"]), "csv", "lacks column"),
        (b"not a zip file", "xlsx", "not an XLSX"),
    ],
)
def test_a_file_that_is_not_a_knowledge_table_is_refused(staff, data, fmt, message):
    with pytest.raises(BadRequest, match=message):
        do_import(staff["sup"], data, fmt)


def test_at_most_5000_rows_per_import(staff, monkeypatch):
    monkeypatch.setattr(transfer, "MAX_ROWS", 3)
    rows = [[f"问题{n}", "", "答", "", "", "", "", "", ""] for n in range(4)]
    with pytest.raises(BadRequest) as raised:
        do_import(staff["sup"], csv_file(rows))
    assert raised.value.code == "too_many_rows"


def test_large_imports_are_written_in_several_transactions(staff, monkeypatch):
    monkeypatch.setattr(transfer, "ENTRIES_PER_TRANSACTION", 2)
    rows = [[f"问题{n}", "", "答", "", "", "", "", "", ""] for n in range(5)]
    result = do_import(staff["sup"], csv_file(rows))
    assert result["created"] == 5
    assert len(entries.list_entries(staff["sup"], None)[0]) == 5
    head = get_head(staff["sup"], None)
    assert (head["entry_total"], head["draft_revision"]) == (5, 3)  # one per transaction
    records, _ = list_audit("shop-a", target=("kb", "shop-a"))
    assert len(records) == 3


def test_the_entry_limit_holds_for_imports(staff, monkeypatch):
    from kefu.knowledge import common

    monkeypatch.setattr(transfer, "MAX_ENTRIES", 2)
    monkeypatch.setattr(common, "MAX_ENTRIES", 2)
    rows = [[f"问题{n}", "", "答", "", "", "", "", "", ""] for n in range(3)]
    with pytest.raises(Conflict) as raised:
        do_import(staff["sup"], csv_file(rows))
    assert raised.value.code == "entry_limit_reached"


def test_agents_may_export_but_not_import(staff, knowledge):
    assert transfer.export_entries(staff["agent"], None, "xlsx")["entry_count"] == 3
    with pytest.raises(Forbidden):
        do_import(staff["agent"], csv_file([["a", "", "b", "", "", "", "", "", ""]]))


def test_a_large_export_comes_as_a_download_link(staff, knowledge, monkeypatch):
    import boto3

    monkeypatch.setattr(transfer, "MAX_INLINE_EXPORT", 10)
    exported = transfer.export_entries(staff["sup"], None, "csv")
    assert "content_base64" not in exported
    assert exported["download_url"].startswith("https://") and exported["expires_in"] == 900
    listed = boto3.client("s3").list_objects_v2(
        Bucket="kefu-test-knowledge", Prefix="shop-a/exports/"
    )
    (obj,) = listed["Contents"]
    body = boto3.client("s3").get_object(Bucket="kefu-test-knowledge", Key=obj["Key"])
    assert body["Body"].read().decode("utf-8-sig").startswith("question,")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_exported_as_text(staff, start):
    question = f'{start}HYPERLINK("http://evil.example") 是什么'
    entries.create_entry(
        staff["sup"],
        None,
        new_entry(question, answer=f"{start}1+1", category=f"{start}cmd", tags=[f"{start}x"]),
    )
    data = base64.b64decode(transfer.export_entries(staff["sup"], None, "csv")["content_base64"])
    [row] = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    [stored] = all_entries(staff["sup"])
    dangerous = [c for c in row.values() if c.lstrip("'").startswith(transfer.FORMULA_START)]
    assert dangerous, "the entry keeps at least one cell that starts with " + repr(start)
    assert all(c.startswith("'") for c in dangerous), row
    # ... and imports back to the same entry (import trims an answer's outer whitespace).
    assert do_import(staff["other"], data)["created"] == 1
    if start.strip():
        assert all_entries(staff["other"]) == [stored]


def _zip_with(extra: dict[str, bytes], base: bytes) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename not in extra:
                dst.writestr(item, src.read(item))
        for name, payload in extra.items():
            dst.writestr(name, payload, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


@pytest.mark.parametrize(
    "extra",
    [
        # 200 MB of one repeated byte: a ~200 KB zip bomb.
        {"xl/worksheets/sheet1.xml": b" " * (200 * 2**20)},
        # A shared-strings table that declares ten million texts.
        {
            "xl/sharedStrings.xml": b'<?xml version="1.0"?><sst xmlns="http://schemas.'
            b'openxmlformats.org/spreadsheetml/2006/main" count="10000000" '
            b'uniqueCount="10000000"><si><t>a</t></si></sst>'
        },
    ],
    ids=["bomb", "shared-strings"],
)
def test_an_xlsx_that_would_unpack_into_too_much_is_refused_before_it_is_read(staff, extra):
    import tracemalloc

    from kefu.errors import PayloadTooLarge

    data = _zip_with(extra, xlsx_file([["问题", "", "答案"]]))
    assert len(data) < 2 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as refused:
            do_import(staff["sup"], data, "xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == "workbook_too_large"
    assert peak < 32 * 2**20, f"refusing it took {peak // 2**20} MB"
