"""Customer import through the local stack, driven by the command-line tool: the file uploaded
with a presigned POST, the job run by the job worker from the jobs queue, the bad rows in a
downloadable report, and the same file imported again changing nothing."""

from __future__ import annotations

import random
import re

import pytest
import requests
from kefu.cli import main as cli

from tests.integration.kefu_http import Api

pytestmark = pytest.mark.integration


def _run_cli(capsys, api: Api, owner: str, path, monkeypatch) -> tuple[str, dict]:
    monkeypatch.setenv("KEFU_TOKEN", owner)
    code = cli.main(["customers", "import", str(path), "--shop", "demo", "--api", api.base_url])
    out = capsys.readouterr().out
    assert code == 0, out
    job_id = re.search(r"import (job_\w+) submitted", out).group(1)
    return job_id, api.get(f"/v1/customers/imports/{job_id}", owner).json()


def test_an_import_with_row_errors_has_a_report_and_a_rerun_changes_nothing(
    api: Api, owner: str, tmp_path, capsys, monkeypatch
):
    phones = [f"139{random.randrange(10**8):08d}" for _ in range(2)]
    path = tmp_path / "客户.csv"
    path.write_text(
        "姓名,手机号,性别,备注\n"
        f"导入甲,{phones[0]},男,第一批\n"
        f"导入乙,{phones[1]},女,\n"
        "导入丙,not-a-phone,男,\n",
        encoding="utf-8",
    )
    job_id, job = _run_cli(capsys, api, owner, path, monkeypatch)
    assert (job["status"], job["done"], job["failed"]) == ("done", 2, 1)
    assert job["counts"] == {"created": 2, "updated": 0, "unchanged": 0}

    report = api.get(f"/v1/customers/imports/{job_id}/errors", owner).json()
    lines = requests.get(report["download_url"], timeout=15).content.decode("utf-8-sig")
    assert lines.splitlines()[1].startswith("4,phone,invalid_phone,")

    found = api.get("/v1/customers", owner, params={"q": phones[0]}).json()["customers"]
    assert len(found) == 1

    _, again = _run_cli(capsys, api, owner, path, monkeypatch)
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 2}
