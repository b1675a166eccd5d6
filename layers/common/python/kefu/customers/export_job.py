"""Customer export (docs/customers.md "Import and export"): a saved segment, a selection or the
whole shop, with the fields asked for, as CSV or XLSX — a `customer_export` job whose file is
delivered through a short-lived presigned download (a Lambda answer holds 6 MB at most).

Personal fields are masked (138****5678, 张*) unless the export asks for them `unmasked`, which
only roles with customers.contact.read may; such an export is audited once more when its file
is written, with its size (rows and bytes) and its fields. Cells are formula-safe: a CSV cell a
spreadsheet would evaluate gets a leading ', and XLSX cells are always text.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec

from kefu import jobs
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers import profiles as pr
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import now_ms
from kefu.jobs import ChunkOutcome, JobKind
from kefu.storage.customers import Customer
from kefu.storage.jobs import Job
from kefu.transfers import csv_bytes, get_json, job_prefix, put_object, read_results, result_key

PERSONAL = ("real_name", "phones", "addresses", "birthday")
FIELDS = (
    "customer_id",
    "display_name",
    "real_name",
    "phones",
    "birthday",
    "addresses",
    "gender",
    "region",
    "tags",
    "tier",
    "lifecycle_stage",
    "source_channel",
    "source_campaign",
    "owner_agent",
    "remarks",
    "orders_count",
    "total_spent",
    "last_purchase_at",
    "last_contact_at",
    "created_at",
)
MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ExportField = Annotated[str, msgspec.Meta(pattern=r"^([a-z_]{1,40}|attr:[a-z][a-z0-9_]{0,39})$")]


class CustomerExportRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    selection: jobs.Selection
    fields: Annotated[list[ExportField], msgspec.Meta(min_length=1, max_length=40)]
    format: Literal["csv", "xlsx"] = "csv"
    unmasked: bool = False


def check_params(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    fields = params.get("fields")
    if not isinstance(fields, list) or not fields:
        raise BadRequest("fields is a list of field names", code="validation_error")
    unknown = [f for f in fields if f not in FIELDS and not str(f).startswith("attr:")]
    if unknown:
        raise BadRequest(
            f"unknown field(s) {unknown}; the fields are {', '.join(FIELDS)}, attr:<id>",
            code="invalid_fields",
        )
    if params.get("format") not in MIME:
        raise BadRequest("format must be csv or xlsx", code="invalid_format")
    return {
        "fields": list(dict.fromkeys(fields)),
        "format": params["format"],
        "unmasked": bool(params.get("unmasked")),
    }


def _cell(customer: Customer, name: str, plain: dict[str, Any] | None, tags: dict) -> Any:
    if name in PERSONAL:
        source = plain if plain is not None else pr._masked(customer)
        value = source.get(name)
        if name == "addresses":
            return "; ".join(
                " ".join(str(a.get(k) or "") for k in ("region", "detail", "recipient")).strip()
                for a in value or []
            )
        return ", ".join(value) if isinstance(value, list) else value
    if name == "tags":
        return ", ".join(tags.get(t, t) for t in customer.tags or [])
    if name == "lifecycle_stage":
        return pr.stage(customer)
    if name.startswith("attr:"):
        attributes = customer.attributes.as_dict() if customer.attributes is not None else {}
        value = attributes.get(name[5:])
        return ", ".join(value) if isinstance(value, list) else value
    value = getattr(customer, name, None)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def run_chunk(job: Job, units: list[str]) -> ChunkOutcome:
    from kefu.tags.catalog import all_tags

    out = ChunkOutcome()
    keys = [(job.shop_id, Customer.key(u)) for u in units]
    found = {c.customer_id: c for c in Customer.batch_get(keys)}
    needs_tags = "tags" in job.params["fields"]
    tags = {t.tag_id: t.name for t in all_tags(job.shop_id)} if needs_tags else {}
    personal = any(f in PERSONAL for f in job.params["fields"])
    rows = []
    for customer_id in units:
        customer = found.get(customer_id)
        if customer is None or customer.erased_at or customer.merged_into:
            out.fail(customer_id, "customer_not_found")
            continue
        plain = pr.decrypted(customer) if job.params["unmasked"] and personal else None
        rows.append([_cell(customer, f, plain, tags) for f in job.params["fields"]])
        out.done += 1
    name = f"rows-{units[0]}" if units else "rows-empty"
    put_object(result_key(job.shop_id, job.job_id, name), json.dumps(rows, default=str).encode())
    return out


def _xlsx_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet("customers")
    sheet.append(header)
    for row in rows:
        cells = []
        for value in row:
            text = "" if value is None else ILLEGAL_CHARACTERS_RE.sub("", str(value))
            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"  # text, always: "=..." is a remark, not a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_key(job: Job) -> str:
    return f"{job_prefix(job.shop_id, job.job_id)}customers.{job.params['format']}"


def finish(job: Job) -> None:
    rows = [row for part in read_results(job.shop_id, job.job_id) for row in part]
    header = list(job.params["fields"])
    fmt = job.params["format"]
    data = csv_bytes(header, rows) if fmt == "csv" else _xlsx_bytes(header, rows)
    put_object(export_key(job), data, MIME[fmt])
    summary = {"rows": len(rows), "size_bytes": len(data)}
    put_object(
        result_key(job.shop_id, job.job_id, "summary", folder="."), json.dumps(summary).encode()
    )
    if job.params["unmasked"]:
        from kefu.audit import record_event

        record_event(
            shop_id=job.shop_id,
            actor=job.actor,
            actor_role=job.actor_role,
            action="customers.exported_unmasked",
            target_type="job",
            target_id=job.job_id,
            details={**summary, "fields": header},
        )


JOB_KINDS = {"customer_export": JobKind("customer_export", check_params, run_chunk, None, finish)}


# --------------------------------------------------------------------------- over HTTP


def submit_export(actor: StaffActor, req: CustomerExportRequest) -> dict[str, Any]:
    p.require(actor, p.CUSTOMERS_READ)
    p.require(actor, p.JOBS_SUBMIT)
    if req.unmasked:
        p.require(actor, p.CUSTOMERS_CONTACT_READ)
    params = {"fields": req.fields, "format": req.format, "unmasked": req.unmasked}
    job = jobs.submit(actor.shop_id, "customer_export", params, actor, selection=req.selection)
    return export_view(job)


def export_view(job: Job) -> dict[str, Any]:
    from kefu.transfers import download_url

    out = job.to_public(now_ms())
    done = job.status == "done"
    summary = get_json(result_key(job.shop_id, job.job_id, "summary", folder=".")) if done else None
    out["file"] = summary
    out["download_url"] = (
        download_url(export_key(job), f"customers-{job.job_id}.{job.params['format']}")
        if done
        else None
    )
    return out


def get_export(actor: StaffActor, job_id: str) -> dict[str, Any]:
    p.require(actor, p.JOBS_READ)
    try:
        job = Job.get(actor.shop_id, Job.key(job_id), consistent_read=True)
    except Job.DoesNotExist:
        job = None
    if job is None or job.kind != "customer_export" or not job_id.startswith("job_"):
        raise NotFound(f"no export {job_id!r}", code="export_not_found")
    if job.status in ("failed", "rejected"):
        raise Conflict(f"the export {job.status}", code=f"export_{job.status}")
    return export_view(job)
