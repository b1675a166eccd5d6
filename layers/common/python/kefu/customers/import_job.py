"""Customer import as a background job (kind `customer_import`, docs/customers.md, docs/jobs.md).

The file reaches S3 first (a presigned POST, or the API puts a small file posted inline) under
transfers/<shop>/imports/<upload>/; the submission checks its size, its format (XLSX: zip-bomb
guard) and its header against the mapping, so a bad file is a 4xx before any job exists. The
worker then plans the job: every row checked (kefu.customers.importing), the good ones into
chunks of 100 as JSON, the bad ones into the error report. Each chunk upserts its rows through
the profile write path (encryption, lookup items, `customer.updated`) — without an audit record
per customer: the job is audited once when submitted and once when done, with its size.

Idempotent: a row is matched by external id (an app_user identity) or phone (the keyed-hash
lookup, or the phone_hash identity a previous import created), and only the fields that differ
are written; a row equal to its customer writes nothing. Re-running a file, or a chunk after a
crash, changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers import (
    APP_USER,
    PHONE_HASH,
    Identity,
    crypto,
    find_identity,
    importing,
    link_identities,
    resolve_customer,
)
from kefu.customers import profiles as pr
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.jobs import ChunkOutcome, JobKind, Planned
from kefu.storage.customers import CustomerLookup
from kefu.storage.jobs import CHUNK_SIZE, Job
from kefu.transfers import (
    error_report_key,
    get_object,
    put_object,
    read_results,
    result_key,
    write_error_report,
)

UNKNOWN_TAGS = ("create", "refuse")
_PLAIN = ("display_name", "gender", "region", "remarks", "source_channel", "source_campaign")


def actor_of(job: Job) -> StaffActor:
    return StaffActor(job.shop_id, job.actor.removeprefix("staff:"), job.actor_role or "agent")


# --------------------------------------------------------------------------- submitting


def check_params(shop_id: str, params: dict[str, Any]) -> dict[str, Any]:
    allowed = {"upload_key", "filename", "format", "preset", "mapping", "unknown_tags"}
    if set(params) - allowed:
        raise BadRequest(f"params takes {', '.join(sorted(allowed))}", code="validation_error")
    key = params.get("upload_key")
    if not isinstance(key, str) or not key.startswith(f"transfers/{shop_id}/imports/"):
        raise BadRequest("upload_key was not issued to this shop", code="invalid_upload")
    mapping = params.get("mapping") or {}
    if not isinstance(mapping, dict) or len(mapping) > importing.MAX_COLUMNS:
        raise BadRequest("mapping is {column header: field}", code="invalid_mapping")
    importing.check_mapping(mapping)
    preset = params.get("preset") or "kefu"
    if preset not in importing.PRESETS:
        raise BadRequest(
            f"preset must be one of {', '.join(importing.PRESETS)}", code="invalid_mapping"
        )
    unknown_tags = params.get("unknown_tags") or "refuse"
    if unknown_tags not in UNKNOWN_TAGS:
        raise BadRequest("unknown_tags is create or refuse", code="validation_error")
    data = get_object(key)
    if data is None:
        raise BadRequest("nothing was uploaded to upload_key", code="invalid_upload")
    importing.check_size(len(data))
    fmt = params.get("format") or importing.detect_format(params.get("filename"), data)
    if fmt not in ("csv", "xlsx"):
        raise BadRequest("format must be csv or xlsx", code="invalid_format")
    _, ignored, rows = importing.read_rows(fmt, data, preset, mapping)
    # Counted here (parsing only, no checks) so a file over MAX_ROWS is a 400, not a failed job.
    if sum(1 for _ in rows) == 0:
        raise BadRequest("the file has no rows", code="invalid_file")
    return {
        "upload_key": key,
        "filename": params.get("filename"),
        "format": fmt,
        "preset": preset,
        "mapping": mapping,
        "unknown_tags": unknown_tags,
        "ignored_columns": ignored,
    }


# --------------------------------------------------------------------------- planning


def plan(job: Job) -> Planned:
    from kefu.customers.attributes import definitions

    params = job.params
    data = get_object(params["upload_key"]) or b""
    _, _, rows = importing.read_rows(params["format"], data, params["preset"], params["mapping"])
    defs = definitions(job.shop_id)
    units: list[str] = []
    errors: list[dict] = []
    for number, cells in rows:
        try:
            row = importing.check_row(cells, defs)
        except importing.RowError as exc:
            errors.append(_error(number, exc.column, exc.code, exc.message))
            continue
        units.append(json.dumps({"row": number, **row}, ensure_ascii=False, separators=(",", ":")))
    put_object(result_key(job.shop_id, job.job_id, "plan"), json.dumps({"errors": errors}).encode())
    return Planned([units[i : i + CHUNK_SIZE] for i in range(0, len(units), CHUNK_SIZE)], errors)


def _error(row: int, column: str, code: str, message: str) -> dict[str, Any]:
    # "customer_id" and "reason" are the job's error fields; row and column name the cell.
    return {
        "customer_id": f"row:{row}",
        "reason": code,
        "row": row,
        "column": column,
        "message": message,
    }


# --------------------------------------------------------------------------- upserting


def _match(shop_id: str, row: dict[str, Any]) -> str | None:
    found: set[str] = set()
    by_external = None
    if row.get("external_id"):
        ident = find_identity(shop_id, Identity(APP_USER, row["external_id"]))
        by_external = ident.customer_id if ident else None
    for phone in row.get("phones", []):
        digest = crypto.lookup_hash(shop_id, pr.PHONE, phone)
        prefix = CustomerLookup.prefix(pr.PHONE, digest)
        found |= {
            i.customer_id
            for i in CustomerLookup.query(shop_id, CustomerLookup.sk.startswith(prefix), limit=5)
        }
        ident = find_identity(shop_id, Identity(PHONE_HASH, digest))
        if ident:
            found.add(ident.customer_id)
    if by_external:
        if found - {by_external}:
            raise importing.RowError(
                "phone", "phone_of_another_customer", "the phone belongs to another customer"
            )
        return by_external
    if len(found) > 1:
        raise importing.RowError(
            "phone", "ambiguous_phone", "several customers have this phone: merge them first"
        )
    return next(iter(found), None)


def _create(shop_id: str, row: dict[str, Any]) -> str:
    # The identity item is the idempotency key: a replayed row finds the customer it created.
    if row.get("external_id"):
        identity = Identity(APP_USER, row["external_id"])
    else:
        identity = Identity(PHONE_HASH, crypto.lookup_hash(shop_id, pr.PHONE, row["phones"][0]))
    return resolve_customer(shop_id, identity, display_name=row.get("display_name")).customer_id


def profile_change(customer: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The fields of `row` that differ from the customer (personal ones compared decrypted);
    phones are added to the customer's, never dropped."""
    change = {f: row[f] for f in _PLAIN if f in row and row[f] != getattr(customer, f)}
    if any(f in row for f in ("real_name", "phones", "birthday")):
        plain = pr.decrypted(customer)
        if "real_name" in row and row["real_name"] != plain["real_name"]:
            change["real_name"] = row["real_name"]
        if "birthday" in row and row["birthday"] != plain["birthday"]:
            change["birthday"] = row["birthday"]
        if "phones" in row:
            merged = list(dict.fromkeys([*plain["phones"], *row["phones"]]))
            if merged != plain["phones"]:
                change["phones"] = merged[:5]
    if "attributes" in row:
        current = customer.attributes.as_dict() if customer.attributes is not None else {}
        moved = {k: v for k, v in row["attributes"].items() if current.get(k) != v}
        if moved:
            change["attributes"] = moved
    return change


def upsert(actor: StaffActor, row: dict[str, Any], tag_ids: list[str]) -> str:
    """One row: "created", "updated" or "unchanged". RowError when it cannot be applied."""
    shop = actor.shop_id
    customer_id = _match(shop, row)
    created, linked = customer_id is None, False
    if customer_id is None:
        customer_id = _create(shop, row)
    elif row.get("external_id") and not find_identity(shop, Identity(APP_USER, row["external_id"])):
        # Found by phone: the external id joins that customer (once; a re-run finds it linked).
        linked = not link_identities(shop, customer_id, [Identity(APP_USER, row["external_id"])])
    customer = pr.load(shop, customer_id)
    if customer.erased_at or customer.merged_into:
        raise importing.RowError(
            "phone", "customer_merged_or_erased", "the customer was merged or erased"
        )
    change = profile_change(customer, row)
    try:
        if change:
            pr.update_profile(
                actor, customer_id, msgspec.convert(change, pr.fields.ProfileChange), audited=False
            )
        missing = [t for t in tag_ids if t not in (customer.tags or [])]
        if missing:
            from kefu.tags import assign

            assign.add_tags(shop, customer_id, missing, "import")
    except (BadRequest, Conflict) as exc:
        raise importing.RowError("", exc.code, exc.message) from None
    except msgspec.ValidationError as exc:
        raise importing.RowError("", "validation_error", str(exc)) from None
    if created:
        return "created"
    return "updated" if change or missing or linked else "unchanged"


def tag_ids_by_name(actor: StaffActor, names: set[str], *, create: bool) -> dict[str, str]:
    """Tag names → ids; unknown names created (staff's tag creation, audited) or left out."""
    from kefu.tags import catalog

    known = {t.name.strip().casefold(): t.tag_id for t in catalog.all_tags(actor.shop_id)}
    for name in sorted(names):
        if name.casefold() in known or not create:
            continue
        try:
            known[name.casefold()] = catalog.create_tag(actor, catalog.NewTag(name=name))["tag_id"]
        except Conflict:  # created meanwhile (a replayed chunk): read it again
            known = {t.name.strip().casefold(): t.tag_id for t in catalog.all_tags(actor.shop_id)}
    return {n: known[n.casefold()] for n in names if n.casefold() in known}


def run_chunk(job: Job, units: list[str]) -> ChunkOutcome:
    actor = actor_of(job)
    rows = [json.loads(u) for u in units]
    names = {n for r in rows for n in r.get("tags", [])}
    create = job.params.get("unknown_tags") == "create"
    tags = tag_ids_by_name(actor, names, create=create) if names else {}
    out = ChunkOutcome()
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    errors = []
    for row in rows:
        number = row.pop("row")
        names_of_row = row.pop("tags", [])
        unknown = [n for n in names_of_row if n not in tags]
        try:
            if unknown:
                raise importing.RowError(
                    "tags", "unknown_tag", f"no tag named {', '.join(unknown)}"
                )
            counts[upsert(actor, row, [tags[n] for n in names_of_row])] += 1
        except importing.RowError as exc:
            errors.append(_error(number, exc.column, exc.code, exc.message))
            continue
        out.done += 1
    out.errors = errors
    # One result object per chunk, named by its first row: a replayed chunk overwrites its own.
    first = json.loads(units[0])["row"] if units else 0
    body = json.dumps({"counts": counts, "errors": errors}, ensure_ascii=False).encode()
    put_object(result_key(job.shop_id, job.job_id, f"rows-{first:07d}"), body)
    return out


def finish(job: Job) -> None:
    results = read_results(job.shop_id, job.job_id)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    errors: list[dict] = []
    for result in results:
        errors += result.get("errors", [])
        for k, v in result.get("counts", {}).items():
            counts[k] = counts.get(k, 0) + v
    errors.sort(key=lambda e: e["row"])
    write_error_report(job.shop_id, job.job_id, errors)
    put_object(
        result_key(job.shop_id, job.job_id, "summary", folder="."), json.dumps(counts).encode()
    )


# ~8 writes on the shop's customers partition per new customer: 30 rows/s keeps it ≤ ~240/s.
ROWS_PER_SECOND = 30
JOB_KINDS = {
    "customer_import": JobKind(
        "customer_import", check_params, run_chunk, plan, finish, pace=ROWS_PER_SECOND
    )
}


# --------------------------------------------------------------------------- over HTTP


def import_view(job: Job, now: int) -> dict[str, Any]:
    from kefu.transfers import get_json

    out = job.to_public(now)
    out["counts"] = (
        get_json(result_key(job.shop_id, job.job_id, "summary", folder="."))
        if job.status == "done"
        else None
    )
    out["ignored_columns"] = job.params.get("ignored_columns", [])
    out["error_report"] = (
        f"/v1/customers/imports/{job.job_id}/errors" if job.status == "done" else None
    )
    return out


def load_import(actor: StaffActor, job_id: str) -> Job:
    p.require(actor, p.JOBS_READ)
    try:
        job = (
            Job.get(actor.shop_id, Job.key(job_id), consistent_read=True)
            if job_id.startswith("job_")
            else None
        )
    except Job.DoesNotExist:
        job = None
    if job is None or job.kind != "customer_import":
        raise NotFound(f"no import {job_id!r}", code="import_not_found")
    return job


def error_report_url(actor: StaffActor, job_id: str) -> dict[str, Any]:
    from kefu.transfers import download_url

    job = load_import(actor, job_id)
    if job.status != "done":
        raise Conflict(
            f"the import is {job.status}; its report comes when it is done", code="report_not_ready"
        )
    return {
        "download_url": download_url(error_report_key(job.shop_id, job.job_id)),
        "errors": int(job.failed),
    }
