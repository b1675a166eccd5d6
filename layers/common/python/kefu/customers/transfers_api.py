"""Customer import over HTTP (docs/customers.md "Import and export"): an upload URL, the import
submitted as a `customer_import` job, its progress with counts, and its error report."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

import msgspec

from kefu import jobs
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers import import_job, importing
from kefu.errors import BadRequest
from kefu.ids import now_ms
from kefu.transfers import new_upload_key, presign_upload, put_object

# Posted inline (base64 in JSON) under API Gateway's and Lambda's 6 MB: larger files go
# through the upload URL.
MAX_INLINE_BYTES = 4 * 1024 * 1024


class CustomerImportUploadRequest(msgspec.Struct, forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    size: int


class CustomerImportRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    upload_key: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    content_base64: str | None = None
    filename: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    format: Literal["csv", "xlsx"] | None = None
    preset: Literal["kefu", "wecom", "youzan"] = "kefu"
    mapping: Annotated[dict[str, str], msgspec.Meta(max_length=importing.MAX_COLUMNS)] = (
        msgspec.field(default_factory=dict)
    )
    unknown_tags: Literal["create", "refuse"] = "refuse"


def upload_url(actor: StaffActor, req: CustomerImportUploadRequest) -> dict[str, Any]:
    p.require(actor, p.CUSTOMERS_WRITE)
    p.require(actor, p.JOBS_SUBMIT)
    importing.check_size(req.size)
    key = new_upload_key(actor.shop_id, req.filename)
    return presign_upload(key, importing.MAX_FILE_BYTES)


def submit_import(actor: StaffActor, req: CustomerImportRequest) -> dict[str, Any]:
    p.require(actor, p.CUSTOMERS_WRITE)
    p.require(actor, p.JOBS_SUBMIT)
    if req.unknown_tags == "create":
        p.require(actor, p.TAGS_MANAGE)
    if (req.upload_key is None) == (req.content_base64 is None):
        raise BadRequest("send exactly one of upload_key, content_base64", code="validation_error")
    key = req.upload_key
    if req.content_base64 is not None:
        if len(req.content_base64) > MAX_INLINE_BYTES * 4 // 3 + 4:
            importing.check_size(len(req.content_base64) * 3 // 4)
            raise BadRequest(
                "a file over 4 MB goes through POST /v1/customers/imports/uploads",
                code="file_too_large_inline",
            )
        try:
            data = base64.b64decode(req.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("content_base64 is not base64", code="invalid_file") from None
        importing.check_size(len(data))
        key = new_upload_key(actor.shop_id, req.filename or "import.csv")
        put_object(key, data, "application/octet-stream")
    params = {
        "upload_key": key,
        "filename": req.filename,
        "format": req.format,
        "preset": req.preset,
        "mapping": req.mapping,
        "unknown_tags": req.unknown_tags,
    }
    job = jobs.submit(actor.shop_id, "customer_import", params, actor, selection=None)
    return import_job.import_view(job, now_ms())


def get_import(actor: StaffActor, job_id: str) -> dict[str, Any]:
    return import_job.import_view(import_job.load_import(actor, job_id), now_ms())


def error_report(actor: StaffActor, job_id: str) -> dict[str, Any]:
    return import_job.error_report_url(actor, job_id)
