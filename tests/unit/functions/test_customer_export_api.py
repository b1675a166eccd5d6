"""Specification: customers exported with chosen fields as a job, delivered as a presigned
download; personal fields masked unless asked unmasked by a role that may see them, which is
audited with the file's size; cells a spreadsheet would evaluate are made text."""

import base64
import csv
import io
from urllib.parse import unquote, urlparse

import boto3
import pytest
from kefu.audit import list_audit
from kefu.jobs import worker

from tests.support.factories import make_shop

CSV = "姓名,手机号,备注\n张三,13812345678,=1+2\n李四,13912345678,老客户\n".encode()


@pytest.fixture
def shop(kefu_env, monkeypatch):
    make_shop("shop-a")
    sqs = boto3.client("sqs")
    monkeypatch.setenv("JOBS_QUEUE_URL", sqs.create_queue(QueueName="jobs-exp")["QueueUrl"])


def _done(gateway, token: str, path: str, body: dict) -> dict:
    answer = gateway.post(path, token=token, json_body=body)
    assert answer.status == 202, answer.text
    job_id = answer.json()["job_id"]
    assert worker.run("shop-a", job_id, lambda: 60_000)["outcome"] == "done"
    return {"job_id": job_id}


def _file(url: str) -> list[list[str]]:
    key = unquote(urlparse(url).path.lstrip("/").removeprefix("kefu-test-media/"))
    data = boto3.client("s3").get_object(Bucket="kefu-test-media", Key=key)["Body"].read()
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _export(gateway, token: str, **extra) -> dict:
    body = {"selection": {"all": True}, "fields": ["real_name", "phones", "remarks"], **extra}
    job = _done(gateway, token, "/v1/customers/exports", body)
    return gateway.get(f"/v1/customers/exports/{job['job_id']}", token=token).json()


@pytest.fixture
def imported(gateway, staff_token, shop):
    owner = staff_token("shop-a", "boss", "owner")
    body = {"content_base64": base64.b64encode(CSV).decode()}
    _done(gateway, owner, "/v1/customers/imports", body)
    return owner


def test_an_export_is_masked_and_formula_safe_by_default(gateway, staff_token, imported):
    sup = staff_token("shop-a", "laoli", "supervisor")
    done = _export(gateway, sup)
    assert done["file"]["rows"] == 2
    rows = sorted(_file(done["download_url"])[1:])
    assert rows == [["张*", "138****5678", "'=1+2"], ["李*", "139****5678", "老客户"]]


def test_an_unmasked_export_is_for_contact_readers_and_audited_with_its_size(
    gateway, staff_token, imported
):
    done = _export(gateway, imported, unmasked=True, format="csv")
    rows = sorted(_file(done["download_url"])[1:])
    assert [r[:2] for r in rows] == [["张三", "13812345678"], ["李四", "13912345678"]]
    records = list_audit("shop-a", target=("job", done["job_id"]))[0]
    exported = [r for r in records if r["action"] == "customers.exported_unmasked"]
    assert exported[0]["after"]["rows"] == 2
    assert exported[0]["after"]["size_bytes"] == done["file"]["size_bytes"]

    amy = staff_token("shop-a", "amy", "agent")
    body = {"selection": {"all": True}, "fields": ["phones"], "unmasked": True}
    assert gateway.post("/v1/customers/exports", token=amy, json_body=body).status == 403


def test_an_unknown_field_is_a_400(gateway, staff_token, shop):
    sup = staff_token("shop-a", "laoli", "supervisor")
    body = {"selection": {"all": True}, "fields": ["password"]}
    answer = gateway.post("/v1/customers/exports", token=sup, json_body=body)
    assert (answer.status, answer.json()["error"]["code"]) == (400, "invalid_fields")
