"""Customer import (docs/customers.md "Import and export"): reading a CSV or XLSX file, mapping
its columns to profile fields (the request's mapping, or a preset for 企业微信 and 有赞 exports)
and checking each row. Pure apart from the shop's attribute definitions: no write here — the
job (kefu.customers.import_job) upserts the checked rows through the profile write path.

A row becomes a dict of normalised values ("row" its line number, the header is line 1), or an
error {"row", "column", "code", "message"} for the per-row report. One bad cell makes the whole
row an error: a row is written entirely or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from kefu.customers import fields
from kefu.errors import BadRequest, PayloadTooLarge
from kefu.knowledge.transfer import _check_xlsx_archive, _unescape_cell

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 60
MAX_TAGS_PER_ROW = 20

# The fields a column may fill; "attr:<attribute_id>" fills a custom attribute.
FIELDS = (
    "display_name",
    "real_name",
    "phone",
    "external_id",
    "gender",
    "region",
    "birthday",
    "remarks",
    "source_channel",
    "source_campaign",
    "tags",
    "ignore",
)
ATTRIBUTE_TARGET = re.compile(r"^attr:([a-z][a-z0-9_]{0,39})$")

# Column headers → fields. "kefu" is kefu's own export layout with the usual Chinese names;
# "wecom" is 企业微信's 客户列表 export (客户名称, 备注手机号, 企业标签, 描述, 添加渠道); "youzan"
# is 有赞's 客户管理 export (姓名, 手机号, 性别, 生日, 地区, 客户来源, 标签, 备注). A header a
# preset does not name is left out of the import (and listed as ignored).
_COMMON = {
    "姓名": "real_name",
    "真实姓名": "real_name",
    "手机号": "phone",
    "手机号码": "phone",
    "手机": "phone",
    "电话": "phone",
    "性别": "gender",
    "生日": "birthday",
    "地区": "region",
    "所在地区": "region",
    "标签": "tags",
    "备注": "remarks",
    "客户来源": "source_channel",
    "来源": "source_channel",
}
PRESETS: dict[str, dict[str, str]] = {
    "kefu": {
        **_COMMON,
        **{f: f for f in FIELDS if f != "ignore"},
        "phones": "phone",
        "昵称": "display_name",
        "客户名称": "display_name",
        "外部id": "external_id",
        "客户id": "external_id",
        "会员id": "external_id",
        "来源活动": "source_campaign",
    },
    "wecom": {
        **_COMMON,
        "客户名称": "display_name",
        "客户昵称": "display_name",
        "备注手机号": "phone",
        "企业标签": "tags",
        "客户标签": "tags",
        "描述": "remarks",
        "添加渠道": "source_channel",
        "外部联系人id": "external_id",
        "externaluserid": "external_id",
    },
    "youzan": {
        **_COMMON,
        "微信昵称": "display_name",
        "客户昵称": "display_name",
        "会员昵称": "display_name",
        "客户标签": "tags",
        "来源渠道": "source_channel",
        "客户id": "external_id",
        "会员编号": "external_id",
    },
}
GENDERS = {
    "男": "male",
    "male": "male",
    "m": "male",
    "1": "male",
    "女": "female",
    "female": "female",
    "f": "female",
    "2": "female",
    "未知": "unknown",
    "unknown": "unknown",
    "0": "unknown",
    "保密": "unknown",
}
TRUE = {"true", "1", "yes", "y", "是", "on"}
FALSE = {"false", "0", "no", "n", "否", "off"}
_LIST_SEPARATORS = re.compile(r"[,，;；|、\n]")
_PHONE_SEPARATORS = re.compile(r"[,，;；/、\n]")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")
EXTERNAL_ID = re.compile(r"^[\w.:@-]{1,128}$")
TEXT_LIMITS = {
    "display_name": 64,
    "real_name": 64,
    "region": 64,
    "remarks": 1000,
    "source_channel": 32,
    "source_campaign": 64,
}


class RowError(Exception):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(message)
        self.column, self.code, self.message = column, code, message


# --------------------------------------------------------------------------- reading files


def check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"the file is {size / 2**20:.1f} MB; at most {MAX_FILE_BYTES // 2**20} MB: split it",
            code="file_too_large",
        )
    if size <= 0:
        raise BadRequest("the file is empty", code="invalid_file")


def _csv_lines(data: bytes) -> Iterator[list[Any]]:
    import csv
    import io

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # Excel on a Chinese Windows (and 有赞's exports) save CSV in GB18030
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise BadRequest(
                "the CSV file is neither UTF-8 nor GB18030 text", code="invalid_file"
            ) from None
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            yield [_unescape_cell(cell) for cell in row]
    except csv.Error as exc:
        raise BadRequest(f"the CSV file cannot be read: {exc}", code="invalid_file") from None


def _xlsx_lines(data: bytes) -> Iterator[list[Any]]:
    import io
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    _check_xlsx_archive(data)  # a zip bomb is refused before openpyxl unpacks anything
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadRequest(f"not an XLSX workbook: {exc}", code="invalid_file") from None
    try:
        if not book.worksheets:
            raise BadRequest("the workbook has no sheet", code="invalid_file")
        for values in book.worksheets[0].iter_rows(max_col=MAX_COLUMNS, values_only=True):
            yield list(values)
    finally:
        book.close()


def _blank(values: list[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def detect_format(filename: str | None, data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if filename and filename.lower().endswith((".xlsx", ".xls")):
        if filename.lower().endswith(".xls"):
            raise BadRequest("save the .xls workbook as .xlsx or CSV", code="invalid_file")
        return "xlsx"
    return "csv"


def mapping_for(header: list[str], preset: str, mapping: dict[str, str]) -> list[str | None]:
    """The field each column fills (None: left out). The request's mapping wins over the
    preset; headers compare case- and space-insensitively."""
    if preset not in PRESETS:
        raise BadRequest(f"preset must be one of {', '.join(PRESETS)}", code="invalid_mapping")
    table = {_fold(k): v for k, v in PRESETS[preset].items()}
    table.update({_fold(k): v for k, v in mapping.items()})
    out = [table.get(_fold(h)) for h in header]
    out = [None if f == "ignore" else f for f in out]
    filled = [f for f in out if f]
    repeated = sorted({f for f in filled if filled.count(f) > 1 and f != "phone"})
    if repeated:
        raise BadRequest(
            f"two columns fill {', '.join(repeated)}: map one of them to ignore",
            code="invalid_mapping",
        )
    if "phone" not in filled and "external_id" not in filled:
        raise BadRequest(
            "no column gives a phone or an external id, so no row could be matched: map one "
            f"(the columns are {', '.join(header[:20])})",
            code="invalid_mapping",
        )
    return out


def check_mapping(mapping: dict[str, str]) -> None:
    for column, target in mapping.items():
        if not isinstance(column, str) or not column.strip() or len(column) > 64:
            raise BadRequest("mapping keys are column headers", code="invalid_mapping")
        if target not in FIELDS and not ATTRIBUTE_TARGET.match(str(target)):
            raise BadRequest(
                f"column {column!r} maps to {target!r}; use one of {', '.join(FIELDS)} "
                "or attr:<attribute_id>",
                code="invalid_mapping",
            )


def _fold(text: Any) -> str:
    return "".join(str(text or "").split()).casefold()


def read_rows(
    fmt: str, data: bytes, preset: str, mapping: dict[str, str]
) -> tuple[list[str | None], list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """(the fields of the columns, the ignored headers, (line, {field: cell}) per data row)."""
    lines = _csv_lines(data) if fmt == "csv" else _xlsx_lines(data)
    header_cells = next(lines, None)
    if header_cells is None or _blank(header_cells):
        raise BadRequest("the file has no header row", code="invalid_file")
    header = [str(c).strip() if c is not None else "" for c in header_cells]
    while header and not header[-1]:
        header.pop()
    targets = mapping_for(header, preset, mapping)
    ignored = [h for h, t in zip(header, targets, strict=True) if t is None and h]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        count = 0
        for number, values in enumerate(lines, start=2):
            if _blank(values):
                continue
            count += 1
            if count > MAX_ROWS:
                raise BadRequest(
                    f"the file has more than {MAX_ROWS:,} rows: split it", code="too_many_rows"
                )
            cells: dict[str, Any] = {}
            for target, value in zip(targets, values, strict=False):
                if target is None:
                    continue
                if target == "phone" and cells.get("phone"):
                    cells["phone"] = f"{cells['phone']},{value or ''}"
                else:
                    cells[target] = value
            yield number, cells

    return targets, ignored, rows()


# --------------------------------------------------------------------------- checking rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value).strip()


def parse_date(value: Any, column: str) -> str:
    if isinstance(value, dt.datetime | dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return day.isoformat()
    match = _DATE.match(_text(value))
    try:
        if not match:
            raise ValueError(value)
        return dt.date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:
        raise RowError(
            column, "invalid_date", f"{_text(value)!r} is not a date (YYYY-MM-DD)"
        ) from None


def _attribute(defn: Any, value: Any, column: str) -> Any:
    from kefu.customers.attributes import check_value

    text = _text(value)
    converted: Any = text
    if defn.type == "number":
        try:
            converted = float(text) if not isinstance(value, int | float) else value
            if isinstance(converted, float) and converted.is_integer():
                converted = int(converted)
        except ValueError:
            raise RowError(column, "invalid_attribute_value", f"{text!r} is not a number") from None
    elif defn.type == "bool":
        if text.casefold() not in TRUE | FALSE:
            raise RowError(column, "invalid_attribute_value", f"{text!r} is not 是/否")
        converted = text.casefold() in TRUE
    elif defn.type == "date":
        converted = parse_date(value, column)
    elif defn.type == "multi_choice":
        converted = [p.strip() for p in _LIST_SEPARATORS.split(text) if p.strip()]
    try:
        return check_value(defn, converted)
    except BadRequest as exc:
        raise RowError(column, exc.code, exc.message) from None


def check_row(cells: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The row's values, normalised; RowError on the first bad cell. Empty cells are left out
    (an import never clears a field)."""
    out: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for target, value in cells.items():
        text = _text(value)
        if not text:
            continue
        if target == "phone":
            phones: list[str] = []
            for raw in _PHONE_SEPARATORS.split(text):
                if not raw.strip():
                    continue
                try:
                    phone = fields.normalise_phone(raw)
                except BadRequest as exc:
                    raise RowError("phone", "invalid_phone", exc.message) from None
                if phone not in phones:
                    phones.append(phone)
            if len(phones) > fields.MAX_PHONES:
                raise RowError("phone", "too_many_phones", f"at most {fields.MAX_PHONES} phones")
            out["phones"] = phones
        elif target == "external_id":
            if not EXTERNAL_ID.match(text):
                raise RowError(target, "invalid_external_id", "letters, digits and _.:@- only")
            out[target] = text
        elif target == "gender":
            gender = GENDERS.get(text.casefold())
            if gender is None:
                raise RowError(target, "invalid_gender", f"{text!r} is not 男/女/未知")
            out[target] = gender
        elif target == "birthday":
            day = parse_date(value, target)
            try:
                out[target] = fields.normalise_birthday(day)
            except BadRequest as exc:
                raise RowError(target, "invalid_date", exc.message) from None
        elif target == "tags":
            names = list(dict.fromkeys(p.strip() for p in _LIST_SEPARATORS.split(text)))
            names = [n for n in names if n]
            if len(names) > MAX_TAGS_PER_ROW or any(len(n) > 40 for n in names):
                raise RowError(target, "invalid_tags", f"at most {MAX_TAGS_PER_ROW} tags of ≤ 40")
            out[target] = names
        elif target.startswith("attr:"):
            aid = target[5:]
            if aid not in defs:
                raise RowError(
                    target, "unknown_attribute", f"the shop has no customer attribute {aid!r}"
                )
            attributes[aid] = _attribute(defs[aid], value, target)
        else:
            limit = TEXT_LIMITS[target]
            if len(text) > limit:
                raise RowError(target, "too_long", f"longer than {limit} characters")
            out[target] = text
    if attributes:
        out["attributes"] = attributes
    if not out.get("phones") and not out.get("external_id"):
        raise RowError("phone", "no_key", "the row has neither a phone nor an external id")
    return out
