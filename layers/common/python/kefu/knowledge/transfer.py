"""Bulk import and export of entries as CSV or XLSX (批量导入导出).

Columns (header row, any order; Chinese names accepted): question, similar_questions (one per
line, or separated by "|"), answer (text, or a JSON array of reply messages for rich answers,
as exported), category, tags ("|"), enabled (true/false, 是/否; empty: true), valid_from,
valid_until (YYYY-MM-DD[ HH:MM[:SS]] Beijing time, or milliseconds), entry_id.

A row with an entry_id updates that entry (or creates it with that id, so a file exported from
one shop imports into another); a row without one updates the live entry with the same standard
question, or creates a new entry. Importing the same file twice changes nothing the second time.

Hostile files: a CSV cell that a spreadsheet would run as a formula (it starts with =, +, -, @,
a tab or a carriage return) is exported with a leading ' (OWASP CSV injection), which import
takes off again; XLSX cells are always written as text. An XLSX archive is measured with
zipfile before openpyxl opens it (uncompressed size, compression ratio, shared strings), so a
small file cannot unpack into gigabytes.

Every row is checked before anything is written: any bad row answers 400 `invalid_import` with
the row-numbered errors (the header is row 1) and nothing is written. Then the entries are
written in transactions of up to 49 entries (entry + version snapshot each, the head and one
audit record per transaction).

Over 500 lines because CSV and XLSX import and export share one column layout and one set of
row checks; its sections (reading files, checking rows, import, export) are where it would split.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.auth.actors import StaffActor
from kefu.aws import client
from kefu.config import settings
from kefu.errors import BadRequest, Conflict, PayloadTooLarge
from kefu.ids import new_id, now_ms
from kefu.knowledge import entries as kb
from kefu.knowledge.common import (
    MAX_ENTRIES,
    audit,
    head_change_actions,
    head_room_condition,
    load_head,
    resolve_scope,
)
from kefu.storage.knowledge import HEAD, KbEntry, KbHead
from kefu.storage.tx import condition_failed, write_transaction

MAX_ROWS = 5000
MAX_IMPORT_BODY = 5 * 1024 * 1024  # under Lambda's 6 MB synchronous request limit
# Larger exports go through S3 (Lambda's response is limited to 6 MB).
MAX_INLINE_EXPORT = 4 * 1024 * 1024
EXPORT_URL_SECONDS = 900
ENTRIES_PER_TRANSACTION = 49  # 2 items each + the head + the audit record <= 100
MAX_ERRORS_SHOWN = 200
MAX_BLANK_RUN = 1000
# XLSX archives (a 5,000-row table is a few MB unpacked; openpyxl holds every shared string).
MAX_XLSX_MEMBERS = 500
MAX_XLSX_UNPACKED = 64 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS_BYTES = 16 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS = 200_000
MAX_XLSX_RATIO = 100  # unpacked / packed, for any member over 1 MB unpacked
# Characters that make a spreadsheet treat a CSV cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (*kb.CONTENT_FIELDS, "entry_id")
ALIASES = {
    "问题": "question",
    "标准问题": "question",
    "相似问题": "similar_questions",
    "相似问法": "similar_questions",
    "答案": "answer",
    "回答": "answer",
    "分类": "category",
    "标签": "tags",
    "启用": "enabled",
    "是否启用": "enabled",
    "生效时间": "valid_from",
    "失效时间": "valid_until",
    "条目id": "entry_id",
}
TRUE = {"true", "1", "yes", "y", "是", "启用", "on"}
FALSE = {"false", "0", "no", "n", "否", "停用", "禁用", "off"}
MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class KbImport(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["csv", "xlsx"]
    content_base64: Annotated[str, msgspec.Meta(min_length=1)]


@dataclass
class _Row:
    number: int
    content: dict[str, Any]
    entry_id: str | None


# --- reading files ---------------------------------------------------------------------------


def _csv_rows(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on a Chinese Windows saves "CSV" in the ANSI code page.
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise BadRequest(
                "the CSV file is neither UTF-8 nor GB18030 text", code="invalid_file"
            ) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise BadRequest(f"the CSV file cannot be read: {exc}", code="invalid_file") from None
    return [[_unescape_cell(cell) for cell in row] for row in rows]


def _escape_cell(value: str) -> str:
    """OWASP CSV injection: a cell a spreadsheet would evaluate is made text by a leading '."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _unescape_cell(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def _check_xlsx_archive(data: bytes) -> None:
    """Refuse a workbook that would unpack into more than the limits, from the zip's central
    directory alone (zipfile reads no more than a member's declared size, so the sizes hold)."""
    import re
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BadRequest(f"not an XLSX workbook: {exc}", code="invalid_file") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_XLSX_MEMBERS:
            raise PayloadTooLarge(
                f"the workbook holds {len(members)} files; at most {MAX_XLSX_MEMBERS}",
                code="workbook_too_large",
            )
        unpacked = sum(m.file_size for m in members)
        if unpacked > MAX_XLSX_UNPACKED:
            raise PayloadTooLarge(
                f"the workbook unpacks to {unpacked // 2**20} MB; at most "
                f"{MAX_XLSX_UNPACKED // 2**20} MB: save it again without unused sheets or "
                "formatting, or split it",
                code="workbook_too_large",
            )
        for m in members:
            if m.file_size > 2**20 and m.file_size > MAX_XLSX_RATIO * max(m.compress_size, 1):
                raise PayloadTooLarge(
                    f"{m.filename} is compressed {m.file_size // max(m.compress_size, 1)} to 1, "
                    "far more than a spreadsheet is: refused as a zip bomb",
                    code="workbook_too_large",
                )
        shared = next((m for m in members if m.filename == "xl/sharedStrings.xml"), None)
        if shared is None:
            return
        if shared.file_size > MAX_XLSX_SHARED_STRINGS_BYTES:
            raise PayloadTooLarge(
                f"the workbook's text is {shared.file_size // 2**20} MB; at most "
                f"{MAX_XLSX_SHARED_STRINGS_BYTES // 2**20} MB",
                code="workbook_too_large",
            )
        try:
            with archive.open(shared) as f:
                head = f.read(1024).decode("utf-8", "replace")
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            raise BadRequest(f"not an XLSX workbook: {exc}", code="invalid_file") from None
        # openpyxl keeps one Python string per unique text.
        declared = re.search(r'uniqueCount="(\d+)"', head) or re.search(r'\bcount="(\d+)"', head)
        if declared and int(declared.group(1)) > MAX_XLSX_SHARED_STRINGS:
            raise PayloadTooLarge(
                f"the workbook declares {declared.group(1)} different texts; at most "
                f"{MAX_XLSX_SHARED_STRINGS}",
                code="workbook_too_large",
            )


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    _check_xlsx_archive(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadRequest(f"not an XLSX workbook: {exc}", code="invalid_file") from None
    try:
        if not book.worksheets:
            raise BadRequest("the workbook has no sheet", code="invalid_file")
        rows: list[list[Any]] = []
        filled = blank_run = 0
        for values in book.worksheets[0].iter_rows(max_col=40, values_only=True):
            rows.append(list(values))
            if _blank(values):
                blank_run += 1
                # Sheets are often formatted far below their data: a long blank run ends it.
                if blank_run > MAX_BLANK_RUN:
                    break
                continue
            blank_run = 0
            filled += 1
            if filled > MAX_ROWS + 1:  # the header and one row too many: enough to refuse it
                break
        return rows
    finally:
        book.close()


def _blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def read_table(fmt: str, data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(row number, {column: cell}) for each non-blank data row; the header is row 1."""
    rows = _csv_rows(data) if fmt == "csv" else _xlsx_rows(data)
    if not rows or _blank(rows[0]):
        raise BadRequest("the file has no header row", code="invalid_file")
    header = []
    for cell in rows[0]:
        name = str(cell).strip().lower() if cell is not None else ""
        header.append(ALIASES.get(name, name))
    while header and not header[-1]:
        header.pop()
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown or "" in header:
        raise BadRequest(
            f"unknown column(s) {', '.join(repr(h) for h in unknown) or 'without a name'}; "
            f"the columns are {', '.join(COLUMNS)}",
            code="invalid_file",
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise BadRequest(f"column(s) {', '.join(repeated)} appear twice", code="invalid_file")
    missing = [c for c in ("question", "answer") if c not in header]
    if missing:
        raise BadRequest(f"the file lacks column(s) {', '.join(missing)}", code="invalid_file")
    table = []
    for number, values in enumerate(rows[1:], start=2):
        if _blank(values):
            continue
        table.append((number, dict(zip(header, values, strict=False))))
    if not table:
        raise BadRequest("the file has no rows", code="invalid_file")
    if len(table) > MAX_ROWS:
        raise BadRequest(f"the file has more than {MAX_ROWS} rows: split it", code="too_many_rows")
    return table


# --- checking rows ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _split(value: Any, separator: str) -> list[str]:
    text = _text(value)
    return [part.strip() for part in text.split(separator) if part.strip()]


def _similar(value: Any) -> list[str]:
    """One question per line; a cell without line breaks may separate them with "|" instead."""
    text = _text(value)
    return _split(text, "\n" if "\n" in text else "|")


def _answer(value: Any) -> list[Any]:
    text = _text(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None  # plain text that happens to start with "["
        if isinstance(parsed, list):
            return parsed
    return [{"type": "text", "content": text}] if text else []


def _enabled(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    text = _text(value).strip().lower()
    if text == "" or text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{text!r} is not true or false")


def _field_of(error: msgspec.ValidationError) -> str:
    # msgspec names the path: "... - at `$.similar_questions[3]`"
    message = str(error)
    if "`$." in message:
        path = message.rsplit("`$.", 1)[1]
        return path.split("[", 1)[0].split(".", 1)[0].rstrip("`")
    return ""


def check_row(number: int, cells: dict[str, Any]) -> tuple[_Row | None, list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []

    def fail(column: str, message: str) -> None:
        errors.append({"row": number, "column": column, "message": message})

    raw: dict[str, Any] = {
        "question": _text(cells.get("question")).strip(),
        "similar_questions": _similar(cells.get("similar_questions")),
        "answer": _answer(cells.get("answer")),
        "tags": _split(cells.get("tags"), "|"),
    }
    category = _text(cells.get("category")).strip()
    if category:
        raw["category"] = category
    for column, parse in (("enabled", _enabled), ("valid_from", kb.parse_time)):
        try:
            raw[column] = parse(cells.get(column))
        except ValueError as exc:
            fail(column, str(exc))
    try:
        raw["valid_until"] = kb.parse_time(cells.get("valid_until"))
    except ValueError as exc:
        fail("valid_until", str(exc))
    entry_id = _text(cells.get("entry_id")).strip() or None
    if entry_id and not kb.ENTRY_ID.match(entry_id):
        fail("entry_id", f"{entry_id!r} is not an entry id (kb_ followed by 23 characters)")
    if not raw["question"]:
        fail("question", "the question is empty")
    if not raw["answer"]:
        fail("answer", "the answer is empty")
    if errors:
        return None, errors
    try:
        req = msgspec.convert(raw, kb.NewKbEntry)
        content = kb.normalise(msgspec.to_builtins(req))
    except msgspec.ValidationError as exc:
        fail(_field_of(exc), str(exc))
        return None, errors
    except BadRequest as exc:
        fail("", exc.message)
        return None, errors
    return _Row(number, content, entry_id), errors


# --- import ----------------------------------------------------------------------------------


@dataclass
class _Plan:
    row: _Row
    entry_id: str
    existing: KbEntry | None  # None: create
    outcome: str  # created | updated | unchanged


def _plan(scope: str, rows: list[_Row]) -> tuple[list[_Plan], list[dict[str, Any]]]:
    current = list(kb.iter_entries(scope))
    by_id = {e.entry_id: e for e in current if e.entry_id and e.question is not None}
    by_question = {
        e.question: e for e in by_id.values() if e.deleted_at is None and e.question is not None
    }
    errors: list[dict[str, Any]] = []
    plans: list[_Plan] = []
    seen_ids: dict[str, int] = {}
    seen_questions: dict[str, int] = {}
    for row in rows:
        question = row.content["question"]
        if question in seen_questions:
            errors.append(
                {
                    "row": row.number,
                    "column": "question",
                    "message": f"the same question as row {seen_questions[question]}",
                }
            )
            continue
        seen_questions[question] = row.number
        existing = by_id.get(row.entry_id) if row.entry_id else by_question.get(question)
        owner = by_question.get(question)
        if row.entry_id and owner is not None and owner.entry_id != row.entry_id:
            errors.append(
                {
                    "row": row.number,
                    "column": "question",
                    "message": f"entry {owner.entry_id} already has this question",
                }
            )
            continue
        entry_id = row.entry_id or (existing.entry_id if existing else None) or ""
        if entry_id:
            if entry_id in seen_ids:
                errors.append(
                    {
                        "row": row.number,
                        "column": "entry_id",
                        "message": f"the same entry as row {seen_ids[entry_id]}",
                    }
                )
                continue
            seen_ids[entry_id] = row.number
        if existing is None:
            outcome = "created"
        elif existing.deleted_at is None and kb.content_of(existing) == row.content:
            outcome = "unchanged"
        else:
            outcome = "updated"
        plans.append(_Plan(row, entry_id, existing, outcome))
    return plans, errors


def _invalid(errors: list[dict[str, Any]], rows: int) -> BadRequest:
    errors.sort(key=lambda e: e["row"])
    bad_rows = len({e["row"] for e in errors})
    return BadRequest(
        f"{bad_rows} of {rows} rows have errors; nothing was imported",
        code="invalid_import",
        details={"errors": errors[:MAX_ERRORS_SHOWN], "error_count": len(errors)},
    )


def import_entries(actor: StaffActor, scope: str | None, req: KbImport) -> dict[str, Any]:
    pk = resolve_scope(actor, scope, manage=True)
    try:
        data = base64.b64decode(req.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("content_base64 is not base64", code="invalid_file") from None
    table = read_table(req.format, data)
    rows: list[_Row] = []
    errors: list[dict[str, Any]] = []
    for number, cells in table:
        row, row_errors = check_row(number, cells)
        errors += row_errors
        if row is not None:
            rows.append(row)
    if errors:
        raise _invalid(errors, len(table))
    plans, errors = _plan(pk, rows)
    if errors:
        raise _invalid(errors, len(table))
    adding = sum(
        1 for p in plans if p.existing is None or (p.outcome == "updated" and p.existing.deleted_at)
    )
    if int(load_head(pk).entry_total or 0) + adding > MAX_ENTRIES:
        raise Conflict(
            f"importing would take the knowledge base over {MAX_ENTRIES} entries",
            code="entry_limit_reached",
        )
    at = now_ms()
    for plan in plans:
        if plan.existing is None and not plan.entry_id:
            plan.entry_id = new_id("kb", at)
    writes = [p for p in plans if p.outcome != "unchanged"]
    written = 0
    for start in range(0, len(writes), ENTRIES_PER_TRANSACTION):
        batch = writes[start : start + ENTRIES_PER_TRANSACTION]
        try:
            _write_batch(actor, pk, batch, at)
        except Conflict as exc:
            raise Conflict(
                f"{exc.message} (import stopped at row {batch[0].row.number}; {written} entries "
                "were written: import the same file again to finish)",
                code=exc.code,
                details={"written": written},
            ) from None
        written += len(batch)
    counts = {k: sum(1 for p in plans if p.outcome == k) for k in ("created", "updated")}
    return {
        "scope": pk,
        "rows": len(plans),
        **counts,
        "unchanged": len(plans) - counts["created"] - counts["updated"],
        "entries": [
            {"row": p.row.number, "entry_id": p.entry_id, "outcome": p.outcome} for p in plans
        ],
    }


def _write_batch(actor: StaffActor, scope: str, batch: list[_Plan], at: int) -> None:
    creates = [p for p in batch if p.existing is None]
    updates = [p for p in batch if p.existing is not None]
    added = len(creates) + sum(1 for p in updates if p.existing.deleted_at is not None)
    try:
        with write_transaction() as tx:
            for p in creates:
                entry = kb.new_entry_item(scope, p.entry_id, p.row.content, actor, at)
                tx.save(entry, condition=KbEntry.sk.does_not_exist())
                tx.save(kb.version_item(scope, p.entry_id, 1, p.row.content, "imported", actor, at))
            for p in updates:
                revision = int(p.existing.revision) + 1
                tx.save(
                    kb.version_item(
                        scope, p.entry_id, revision, p.row.content, "imported", actor, at
                    )
                )
            tx.save(
                audit(
                    actor,
                    scope,
                    "knowledge.entries_imported",
                    "kb",
                    scope,
                    None,
                    {
                        "created": [p.entry_id for p in creates],
                        "updated": [p.entry_id for p in updates],
                    },
                    at,
                )
            )
            for p in updates:
                actions = kb.revision_actions(int(p.existing.revision) + 1, actor, at)
                actions += kb.content_actions(p.row.content)
                if p.existing.deleted_at is not None:
                    actions += [KbEntry.deleted_at.remove(), KbEntry.deleted_by.remove()]
                tx.update(
                    p.existing, actions, condition=KbEntry.revision == int(p.existing.revision)
                )
            tx.update(
                KbHead(scope, HEAD),
                head_change_actions(actor, at, entries=added),
                head_room_condition(added) if added else None,
            )
    except TransactWriteError as exc:
        head_index = 2 * len(creates) + len(updates) + 1 + len(updates)
        if condition_failed(exc, head_index):
            raise Conflict(
                f"the knowledge base would hold more than {MAX_ENTRIES} entries",
                code="entry_limit_reached",
            ) from None
        if any(condition_failed(exc, i) for i in range(head_index)):
            raise Conflict(
                "an entry in the file was changed by someone else meanwhile",
                code="revision_conflict",
            ) from None
        raise


# --- export ----------------------------------------------------------------------------------


def _row_of(content: dict[str, Any], entry_id: str) -> list[str]:
    answer = content["answer"]
    if len(answer) == 1 and answer[0]["type"] == "text":
        answer_cell = answer[0]["content"]
    else:
        answer_cell = json.dumps(answer, ensure_ascii=False)
    similar = "\n".join(content["similar_questions"])
    if "|" in similar and "\n" not in similar:
        similar += "\n"  # one question with a "|" in it: the line break says it is not a list
    return [
        content["question"],
        similar,
        answer_cell,
        content["category"] or "",
        "|".join(content["tags"]),
        "true" if content["enabled"] else "false",
        kb.format_time(content["valid_from"]),
        kb.format_time(content["valid_until"]),
        entry_id,
    ]


def _csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows([_escape_cell(cell) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read it as UTF-8


def _xlsx_bytes(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet("knowledge")
    sheet.append(list(COLUMNS))
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"  # text, always: "=..." is a question, not a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_entries(actor: StaffActor, scope: str | None, fmt: str | None) -> dict[str, Any]:
    """Every live entry, oldest first, in the import format. Small files come inline (base64);
    larger ones through a short-lived S3 download link."""
    fmt = fmt or "csv"
    if fmt not in ("csv", "xlsx"):
        raise BadRequest("format must be csv or xlsx", code="invalid_format")
    pk = resolve_scope(actor, scope, manage=False)
    entries = [
        e
        for e in kb.iter_entries(pk, filter_condition=KbEntry.deleted_at.does_not_exist())
        if e.question is not None
    ]
    rows = [_row_of(kb.content_of(e), e.entry_id) for e in entries]
    data = _csv_bytes(rows) if fmt == "csv" else _xlsx_bytes(rows)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    filename = f"knowledge-{pk}-{stamp}.{fmt}"
    result: dict[str, Any] = {
        "format": fmt,
        "filename": filename,
        "entry_count": len(rows),
        "size_bytes": len(data),
    }
    if len(data) * 4 // 3 <= MAX_INLINE_EXPORT:
        result["content_base64"] = base64.b64encode(data).decode("ascii")
        return result
    key = f"{pk}/exports/{stamp}-{secrets.token_hex(8)}/{filename}"
    s3 = client("s3")
    s3.put_object(Bucket=settings().knowledge_bucket, Key=key, Body=data, ContentType=MIME[fmt])
    result["download_url"] = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": settings().knowledge_bucket, "Key": key},
        ExpiresIn=EXPORT_URL_SECONDS,
    )
    result["expires_in"] = EXPORT_URL_SECONDS
    return result
