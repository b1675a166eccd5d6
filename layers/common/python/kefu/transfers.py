"""Files a shop moves in and out in bulk (customer imports, exports, their error reports): S3
objects in the media bucket under transfers/<shop>/, which its lifecycle rule expires after 7
days (they hold personal data). Uploads and downloads go through presigned URLs, so no Lambda
carries a large file over API Gateway."""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from typing import Any

from kefu.aws import client
from kefu.config import settings
from kefu.knowledge.transfer import _escape_cell

UPLOAD_URL_TTL = 900
DOWNLOAD_URL_TTL = 900
ERROR_COLUMNS = ("row", "column", "code", "message")


def _bucket() -> str:
    return settings().media_bucket


def job_prefix(shop_id: str, job_id: str) -> str:
    return f"transfers/{shop_id}/jobs/{job_id}/"


def new_upload_key(shop_id: str, filename: str) -> str:
    safe = "".join(c for c in filename if c.isalnum() or c in "._-")[-80:] or "file"
    return f"transfers/{shop_id}/imports/{time.strftime('%Y%m%d')}-{secrets.token_hex(8)}/{safe}"


def presign_upload(key: str, max_bytes: int) -> dict[str, Any]:
    post = client("s3").generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Conditions=[["content-length-range", 1, max_bytes]],
        ExpiresIn=UPLOAD_URL_TTL,
    )
    return {"upload_key": key, "upload": post, "expires_in": UPLOAD_URL_TTL}


def get_object(key: str) -> bytes | None:
    s3 = client("s3")
    try:
        return bytes(s3.get_object(Bucket=_bucket(), Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def get_json(key: str) -> Any:
    data = get_object(key)
    return json.loads(data) if data is not None else None


def put_object(key: str, body: bytes, content_type: str = "application/json") -> None:
    client("s3").put_object(Bucket=_bucket(), Key=key, Body=body, ContentType=content_type)


def result_key(shop_id: str, job_id: str, name: str, *, folder: str = "results") -> str:
    return f"{job_prefix(shop_id, job_id)}{folder}/{name}.json".replace("/./", "/")


def read_results(shop_id: str, job_id: str) -> list[Any]:
    """Every result object the job's plan and chunks wrote, in key order."""
    prefix = f"{job_prefix(shop_id, job_id)}results/"
    s3 = client("s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=prefix):
        for obj in page.get("Contents", []):
            out.append(json.loads(s3.get_object(Bucket=_bucket(), Key=obj["Key"])["Body"].read()))
    return out


def error_report_key(shop_id: str, job_id: str) -> str:
    return f"{job_prefix(shop_id, job_id)}errors.csv"


def csv_bytes(header: list[str] | tuple[str, ...], rows: list[list[Any]]) -> bytes:
    """CSV a spreadsheet opens as text only (OWASP CSV injection guard), UTF-8 with a BOM."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_escape_cell("" if c is None else str(c)) for c in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def write_error_report(shop_id: str, job_id: str, errors: list[dict[str, Any]]) -> None:
    rows = [[e.get("row"), e.get("column"), e.get("reason"), e.get("message")] for e in errors]
    put_object(
        error_report_key(shop_id, job_id),
        csv_bytes(ERROR_COLUMNS, rows),
        "text/csv; charset=utf-8",
    )


def download_url(key: str, filename: str | None = None) -> str:
    params: dict[str, Any] = {"Bucket": _bucket(), "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
    return str(
        client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_URL_TTL)
    )
