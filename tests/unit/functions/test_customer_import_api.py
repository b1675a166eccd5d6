"""Specification: customers imported from a CSV or XLSX file as a background job — rows checked
one by one, upserted by phone or external id through the profile write path (encrypted, found
by the keyed hash), audited once for the job; the bad rows in a downloadable, formula-safe CSV
report; the same file imported again changes nothing; a bad file is a 4xx and writes nothing."""

import base64
import io

import boto3
import pytest
from kefu.audit import list_audit
from kefu.jobs import worker
from kefu.storage.customers import CUSTOMER_PREFIX, Customer
from kefu.storage.jobs import JOB_PREFIX, Job

from tests.support.factories import make_shop

IMPORTS = "/v1/customers/imports"
CSV = (
    "姓名,手机号,性别,生日,地区,标签,备注,客户来源\n"
    "张三,13812345678,男,1990-05-01,广东省/深圳市,VIP|复购,老客户,门店\n"
    "李四,+86 139 1234 5678,女,1991/2/3,浙江省/杭州市,VIP,,小程序\n"
    '王五,12345,男,,,,=HYPERLINK("x"),\n'  # not a phone
    "赵六,13700000000,男,1992-13-01,,,,\n"  # not a date
    "钱七,13600000000,外星,,,,,\n"  # not a gender
).encode()


@pytest.fixture
def shop(kefu_env, monkeypatch):
    make_shop("shop-a")
    sqs = boto3.client("sqs")
    monkeypatch.setenv("JOBS_QUEUE_URL", sqs.create_queue(QueueName="jobs-imp")["QueueUrl"])


def _customers() -> list[Customer]:
    return list(Customer.query("shop-a", Customer.sk.startswith(CUSTOMER_PREFIX)))


def _import(gateway, token: str, data: bytes, **extra) -> dict:
    body = {"content_base64": base64.b64encode(data).decode(), "filename": "c.csv", **extra}
    answer = gateway.post(IMPORTS, token=token, json_body=body)
    assert answer.status == 202, answer.text
    job = answer.json()
    assert worker.run("shop-a", job["job_id"], lambda: 60_000)["outcome"] == "done"
    return gateway.get(f"{IMPORTS}/{job['job_id']}", token=token).json()


def test_an_import_upserts_good_rows_reports_bad_ones_and_a_rerun_changes_nothing(
    gateway, staff_token, shop
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    done = _import(gateway, sup, CSV, unknown_tags="create")
    assert (done["status"], done["total"], done["done"], done["failed"]) == ("done", 5, 2, 3)
    assert done["counts"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert len(_customers()) == 2
    found = gateway.get("/v1/customers", token=sup, query={"q": "13912345678"}).json()
    assert len(found["customers"]) == 1
    profile = gateway.get(f"/v1/customers/{found['customers'][0]['customer_id']}", token=sup)
    body = profile.json()
    assert body["phones"] == ["139****5678"] and body["gender"] == "female"
    assert body["region"] == "浙江省/杭州市" and body["source_channel"] == "小程序"
    assert len(body["tags"]) == 1
    stored = [c for c in _customers() if c.phones]
    assert all("13912345678" not in str(c.phones) for c in stored)  # encrypted at rest

    report = gateway.get(f"{IMPORTS}/{done['job_id']}/errors", token=sup).json()
    assert report["errors"] == 3
    from urllib.parse import unquote, urlparse

    url = urlparse(report["download_url"])
    key = unquote(url.path.lstrip("/").removeprefix("kefu-test-media/"))
    text = boto3.client("s3").get_object(Bucket="kefu-test-media", Key=key)["Body"].read()
    lines = text.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,code,message"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["4", "phone", "invalid_phone"],
        ["5", "birthday", "invalid_date"],
        ["6", "gender", "invalid_gender"],
    ]

    before = {c.customer_id: (c.profile_rev, list(c.tags or [])) for c in _customers()}
    again = _import(gateway, sup, CSV, unknown_tags="create")
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert {c.customer_id: (c.profile_rev, list(c.tags or [])) for c in _customers()} == before

    # Audited as two operations (submitted, completed) per job, none per customer.
    for cid in before:
        assert list_audit("shop-a", target=("customer", cid))[0] == []
    actions = [r["action"] for r in list_audit("shop-a", target=("job", done["job_id"]))[0]]
    assert sorted(actions) == ["job.completed", "job.submitted"]


def test_a_row_updates_the_customer_it_matches_by_phone_and_only_what_differs(
    gateway, staff_token, shop
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    _import(gateway, sup, "手机号,备注\n13812345678,第一次\n".encode())
    done = _import(gateway, sup, "手机号,备注,性别\n+8613812345678,第二次,女\n".encode())
    assert done["counts"] == {"created": 0, "updated": 1, "unchanged": 0}
    (customer,) = _customers()
    assert (customer.remarks, customer.gender) == ("第二次", "female")


def test_an_external_id_joins_the_customer_found_by_phone_once(gateway, staff_token, shop):
    from kefu.customers import APP_USER, Identity, find_identity

    sup = staff_token("shop-a", "laoli", "supervisor")
    _import(gateway, sup, "手机号\n13812345678\n".encode())
    data = "手机号,外部ID\n13812345678,yz-001\n".encode()
    assert _import(gateway, sup, data)["counts"] == {"created": 0, "updated": 1, "unchanged": 0}
    (customer,) = _customers()
    assert find_identity("shop-a", Identity(APP_USER, "yz-001")).customer_id == customer.customer_id
    assert _import(gateway, sup, data)["counts"] == {"created": 0, "updated": 0, "unchanged": 1}


def test_unknown_tags_are_refused_by_default_and_an_unknown_attribute_is_a_row_error(
    gateway, staff_token, shop
):
    sup = staff_token("shop-a", "laoli", "supervisor")
    data = "phone,tags,vip\n13812345678,新标签,3\n13812345679,,4\n".encode()
    done = _import(gateway, sup, data, mapping={"vip": "attr:vip_level"})
    assert [(e["row"], e["reason"]) for e in done["errors"]] == [
        (2, "unknown_attribute"),
        (3, "unknown_attribute"),
    ]
    data = "phone,tags\n13812345678,新标签\n".encode()
    done = _import(gateway, sup, data)
    assert [(e["row"], e["reason"]) for e in done["errors"]] == [(2, "unknown_tag")]
    assert _customers() == []


def test_an_xlsx_export_of_youzan_imports_with_its_preset(gateway, staff_token, shop):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["微信昵称", "姓名", "手机号", "会员等级", "标签"])
    book.active.append(["小红", "黄小红", 13512345678, "黄金", None])
    out = io.BytesIO()
    book.save(out)
    sup = staff_token("shop-a", "laoli", "supervisor")
    done = _import(gateway, sup, out.getvalue(), preset="youzan", filename="有赞.xlsx")
    assert done["counts"]["created"] == 1 and done["ignored_columns"] == ["会员等级"]
    (customer,) = _customers()
    assert customer.display_name == "小红"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"content_base64": base64.b64encode(b"a,b\n1,2\n").decode()}, 400, "invalid_mapping"),
        ({"content_base64": base64.b64encode(b"phone\n").decode()}, 400, "invalid_file"),
        ({"content_base64": "%%%"}, 400, "invalid_file"),
        ({"upload_key": "transfers/shop-b/imports/x/y.csv"}, 400, "invalid_upload"),
        ({"content_base64": "QQ==", "mapping": {"a": "nonsense"}}, 400, "invalid_mapping"),
        ({}, 400, "validation_error"),
    ],
)
def test_bad_input_is_a_4xx_and_writes_no_job(gateway, staff_token, shop, body, status, code):
    sup = staff_token("shop-a", "laoli", "supervisor")
    answer = gateway.post(IMPORTS, token=sup, json_body=body)
    assert (answer.status, answer.json()["error"]["code"]) == (status, code), answer.text
    assert list(Job.query("shop-a", Job.sk.startswith(JOB_PREFIX))) == []


def test_a_file_over_the_row_limit_is_a_400_before_any_job(gateway, staff_token, shop, monkeypatch):
    monkeypatch.setattr("kefu.customers.importing.MAX_ROWS", 2)
    sup = staff_token("shop-a", "laoli", "supervisor")
    data = b"phone\n13812345671\n13812345672\n13812345673\n"
    body = {"content_base64": base64.b64encode(data).decode()}
    answer = gateway.post(IMPORTS, token=sup, json_body=body)
    assert (answer.status, answer.json()["error"]["code"]) == (400, "too_many_rows")
    assert list(Job.query("shop-a", Job.sk.startswith(JOB_PREFIX))) == []


def test_a_file_over_20_mb_is_refused_with_413_before_any_upload(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    answer = gateway.post(
        f"{IMPORTS}/uploads", token=sup, json_body={"filename": "big.csv", "size": 50 * 2**20}
    )
    assert (answer.status, answer.json()["error"]["code"]) == (413, "file_too_large")
    ok = gateway.post(f"{IMPORTS}/uploads", token=sup, json_body={"filename": "c.csv", "size": 9})
    assert ok.status == 201 and ok.json()["upload_key"].startswith("transfers/shop-a/imports/")


def test_agents_cannot_import(gateway, staff_token, shop):
    amy = staff_token("shop-a", "amy", "agent")
    answer = gateway.post(IMPORTS, token=amy, json_body={"content_base64": "QQ=="})
    assert answer.status == 403
