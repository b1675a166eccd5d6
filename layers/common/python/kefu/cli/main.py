"""`python -m kefu.cli customers import FILE --shop demo`: upload a CSV/XLSX file through the
API's presigned upload, submit the import, follow the job with a progress bar, print the counts
and where the error report is. Against the local stack (`make dev`, the default API) or a
deployed one (--api). The token comes from KEFU_TOKEN, or a sign-in prompt."""

from __future__ import annotations

import argparse
import getpass
import os
import time
from pathlib import Path
from typing import Any

DEFAULT_API = "http://127.0.0.1:3000"
PRESETS = ("kefu", "wecom", "youzan")
POLL_S = 1.0
FINAL = ("done", "failed", "rejected")


class CliError(Exception):
    """A failure to report in one line, with exit status 1."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kefu.cli", description=__doc__)
    sub = parser.add_subparsers(dest="area", required=True)
    customers = sub.add_parser("customers", help="customer profiles")
    actions = customers.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="import customers from a CSV or XLSX file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--shop", required=True, help="the shop id (e.g. demo)")
    imp.add_argument("--api", default=os.environ.get("KEFU_API", DEFAULT_API))
    imp.add_argument("--preset", choices=PRESETS, default="kefu")
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="map a column header to a field (phone, real_name, tags, attr:vip_level, ignore…)",
    )
    imp.add_argument("--create-tags", action="store_true", help="create tags the file names")
    imp.add_argument("--username", help="sign in as (when KEFU_TOKEN is not set)")
    imp.add_argument("--no-wait", action="store_true", help="submit and exit")
    args = parser.parse_args(argv)
    args.mapping = mapping_of(args.map, parser)
    return args


def mapping_of(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, field = pair.partition("=")
        if not sep or not column.strip() or not field.strip():
            parser.error(f"--map takes COLUMN=FIELD, not {pair!r}")
        mapping[column.strip()] = field.strip()
    return mapping


class Api:
    def __init__(self, base: str, shop_id: str, token: str | None = None) -> None:
        import requests

        self.base, self.shop_id, self.token = base.rstrip("/"), shop_id, token
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        resp = self.http.request(method, self.base + path, headers=headers, timeout=60, **kwargs)
        if resp.status_code >= 400:
            try:
                error = resp.json()["error"]
                raise CliError(f"{resp.status_code} {error['code']}: {error['message']}")
            except (ValueError, KeyError):
                raise CliError(f"{resp.status_code}: {resp.text[:200]}") from None
        return dict(resp.json())

    def sign_in(self, username: str, password: str) -> None:
        body = {"shop_id": self.shop_id, "username": username, "password": password}
        self.token = self.call("POST", "/v1/staff/login", json=body)["access_token"]

    def upload(self, path: Path) -> str:
        size = path.stat().st_size
        issued = self.call(
            "POST", "/v1/customers/imports/uploads", json={"filename": path.name, "size": size}
        )
        with path.open("rb") as f:
            resp = self.http.post(
                issued["upload"]["url"],
                data=issued["upload"]["fields"],
                files={"file": (path.name, f)},
                timeout=300,
            )
        if resp.status_code >= 300:
            raise CliError(f"the upload was refused ({resp.status_code}): {resp.text[:200]}")
        return str(issued["upload_key"])


def token_for(api: Api, username: str | None) -> None:
    token = os.environ.get("KEFU_TOKEN")
    if token:
        api.token = token
        return
    username = username or input(f"username for {api.shop_id}: ")
    api.sign_in(username, getpass.getpass("password: "))


def follow(api: Api, job_id: str) -> dict[str, Any]:
    """Poll the import, with a progress bar, until it ends."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task("checking rows", total=None)
        while True:
            job = api.call("GET", f"/v1/customers/imports/{job_id}")
            done = int(job["done"]) + int(job["failed"])
            label = "waiting for approval" if job["status"] == "awaiting_approval" else "importing"
            bar.update(task, total=job["total"], completed=done, description=label)
            if job["status"] in FINAL:
                return job
            time.sleep(POLL_S)


def import_customers(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    if not args.file.is_file():
        raise CliError(f"no file {args.file}")
    api = Api(args.api, args.shop)
    token_for(api, args.username)
    key = api.upload(args.file)
    body = {
        "upload_key": key,
        "filename": args.file.name,
        "preset": args.preset,
        "mapping": args.mapping,
        "unknown_tags": "create" if args.create_tags else "refuse",
    }
    job = api.call("POST", "/v1/customers/imports", json=body)
    console.print(f"import {job['job_id']} submitted")
    if args.no_wait:
        return 0
    job = follow(api, job["job_id"])
    if job["status"] != "done":
        raise CliError(f"the import {job['status']}: {job.get('failure') or ''}")
    counts = job.get("counts") or {}
    console.print(
        f"created {counts.get('created', 0)}, updated {counts.get('updated', 0)}, "
        f"unchanged {counts.get('unchanged', 0)}, rows with errors {job['failed']}"
    )
    if job.get("ignored_columns"):
        console.print(f"columns left out: {', '.join(job['ignored_columns'])}")
    if int(job["failed"]):
        report = api.call("GET", f"/v1/customers/imports/{job['job_id']}/errors")
        console.print(f"error report: {report['download_url']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return import_customers(args)
    except CliError as exc:
        print(f"error: {exc}", file=__import__("sys").stderr)
        return 1
