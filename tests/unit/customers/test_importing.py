"""Specification: an import file's columns map to profile fields by preset and mapping, and each
row is checked cell by cell into normalised values — or refused with the cell and a code."""

import datetime as dt
import io
import zipfile
from types import SimpleNamespace

import pytest
from kefu.customers import importing as im
from kefu.errors import BadRequest, PayloadTooLarge


def _rows(data: bytes, preset: str = "kefu", mapping: dict | None = None) -> list:
    _, _, rows = im.read_rows("csv", data, preset, mapping or {})
    return list(rows)


def test_the_youzan_and_wecom_presets_know_their_exports_headers():
    youzan = im.mapping_for(["微信昵称", "姓名", "手机号", "会员等级", "标签"], "youzan", {})
    assert youzan == ["display_name", "real_name", "phone", None, "tags"]
    wecom = im.mapping_for(["客户名称", "备注手机号", "企业标签", "描述", "添加人"], "wecom", {})
    assert wecom == ["display_name", "phone", "tags", "remarks", None]


def test_the_request_mapping_wins_and_ignore_leaves_a_column_out():
    targets = im.mapping_for(
        ["客户手机", "手机号", "VIP"],
        "kefu",
        {"客户手机": "phone", "手机号": "ignore", "vip": "attr:vip_level"},
    )
    assert targets == ["phone", None, "attr:vip_level"]


@pytest.mark.parametrize(
    ("header", "mapping"),
    [(["姓名", "备注"], {}), (["昵称", "客户名称", "手机号"], {})],
)
def test_a_file_without_a_key_column_or_with_a_field_twice_is_refused(header, mapping):
    with pytest.raises(BadRequest) as refused:
        im.mapping_for(header, "kefu", mapping)
    assert refused.value.code == "invalid_mapping"


def test_two_phone_columns_fill_one_phone_list_and_formula_escapes_come_off():
    (row,) = _rows("手机号,电话,备注\n13812345678,+85291234567,'=1+2\n".encode())
    assert row == (2, {"phone": "13812345678,+85291234567", "remarks": "=1+2"})
    checked = im.check_row(row[1], {})
    assert checked == {"phones": ["13812345678", "+85291234567"], "remarks": "=1+2"}


def test_gb18030_csv_from_excel_is_read():
    data = "姓名,手机号\n张三,13812345678\n".encode("gb18030")
    assert _rows(data)[0][1] == {"real_name": "张三", "phone": "13812345678"}


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            {"phone": "+86 138-1234-5678", "gender": "女"},
            {"phones": ["13812345678"], "gender": "female"},
        ),
        (
            {"phone": "13812345678", "birthday": "1990年5月1日"},
            {"phones": ["13812345678"], "birthday": "1990-05-01"},
        ),
        (
            {"external_id": "u-1", "birthday": dt.datetime(1990, 5, 1)},
            {"external_id": "u-1", "birthday": "1990-05-01"},
        ),
        (
            {"phone": "13812345678", "tags": "VIP，复购|VIP"},
            {"phones": ["13812345678"], "tags": ["VIP", "复购"]},
        ),
        ({"phone": 13812345678.0, "region": "  "}, {"phones": ["13812345678"]}),
    ],
)
def test_cells_are_normalised(cells, expected):
    assert im.check_row(cells, {}) == expected


@pytest.mark.parametrize(
    ("cells", "column", "code"),
    [
        ({"phone": "12345"}, "phone", "invalid_phone"),
        ({"phone": "13812345678", "birthday": "1990-13-01"}, "birthday", "invalid_date"),
        ({"phone": "13812345678", "birthday": "2999-01-01"}, "birthday", "invalid_date"),
        ({"phone": "13812345678", "gender": "外星"}, "gender", "invalid_gender"),
        ({"phone": "13812345678", "attr:vip": "3"}, "attr:vip", "unknown_attribute"),
        ({"phone": "13812345678", "remarks": "长" * 1001}, "remarks", "too_long"),
        ({"display_name": "无名"}, "phone", "no_key"),
        ({"external_id": "has space"}, "external_id", "invalid_external_id"),
    ],
)
def test_a_bad_cell_refuses_the_row_naming_the_column(cells, column, code):
    with pytest.raises(im.RowError) as refused:
        im.check_row(cells, {})
    assert (refused.value.column, refused.value.code) == (column, code)


def test_custom_attributes_are_typed_by_the_shops_definition():
    defs = {
        "vip": SimpleNamespace(attribute_id="vip", type="number", options=None, max_length=None),
        "member": SimpleNamespace(
            attribute_id="member", type="bool", options=None, max_length=None
        ),
        "likes": SimpleNamespace(
            attribute_id="likes", type="multi_choice", options=["茶", "咖啡"], max_length=None
        ),
    }
    row = im.check_row(
        {"phone": "13812345678", "attr:vip": "3", "attr:member": "是", "attr:likes": "咖啡、茶"},
        defs,
    )
    assert row["attributes"] == {"vip": 3, "member": True, "likes": ["咖啡", "茶"]}
    with pytest.raises(im.RowError) as refused:
        im.check_row({"phone": "13812345678", "attr:vip": "三"}, defs)
    assert refused.value.code == "invalid_attribute_value"


def test_files_over_the_limit_are_413_and_empty_ones_400():
    with pytest.raises(PayloadTooLarge) as big:
        im.check_size(50 * 2**20)
    assert (big.value.status, big.value.code) == (413, "file_too_large")
    with pytest.raises(BadRequest):
        im.check_size(0)


def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"<" * (80 * 2**20))
    with pytest.raises(PayloadTooLarge) as refused:
        list(im._xlsx_lines(out.getvalue()))
    assert refused.value.code == "workbook_too_large"


def test_more_rows_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(im, "MAX_ROWS", 2)
    with pytest.raises(BadRequest) as refused:
        _rows(b"phone\n13812345671\n13812345672\n13812345673\n")
    assert refused.value.code == "too_many_rows"
