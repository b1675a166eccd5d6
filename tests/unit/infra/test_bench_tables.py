"""Specification: `make bench` ends with its figures as plain-text tables, one section per
figure, with per-route percentiles as a grid — not a JSON dump interleaved with log lines."""

from infra.bench.__main__ import render_tables

REPORT = {
    "import time, ms (median of fresh processes)": {"intake": 212.4, "notifier": 98.0},
    "warm latency through the local gateway": {
        "POST /v1/messages (in-app client)": {"p50_ms": 9.1, "p95_ms": 14.0, "p99_ms": 21.5},
        "GET /v1/conversations (owner)": {"p50_ms": 7.25, "p95_ms": 11.0, "p99_ms": 1234.5},
    },
    "DynamoDB per operation": {
        "Scans in the whole run": 0,
        "intake of a WeChat push": {"requests": 3, "tables": ["Messages", "Conversations"]},
    },
    "layer": {"size": "9.8 MB", "forbidden packages present": []},
}


def test_the_report_renders_as_aligned_tables():
    text = render_tables(REPORT)
    lines = text.splitlines()
    # A titled section per figure, in the report's order.
    titles = [lines[i - 1] for i, line in enumerate(lines) if line and set(line) == {"="}]
    assert titles == list(REPORT)
    # Percentiles per route are a grid: a header row, then one aligned row per route.
    header = next(line for line in lines if "p50_ms" in line)
    assert header.split() == ["p50_ms", "p95_ms", "p99_ms"]
    row = next(line for line in lines if line.startswith("GET /v1/conversations (owner)"))
    assert row.split()[-3:] == ["7.25", "11", "1,234.5"]
    assert len(row) == len(header)  # right-aligned under their column
    # Scalars as label/value rows; nested figures as sub-sections; empty lists readable.
    assert any(line.split() == ["intake", "212.4"] for line in lines)
    assert "DynamoDB per operation / intake of a WeChat push" not in text  # depth 1 is titled
    assert "intake of a WeChat push" in lines
    assert any("Messages, Conversations" in line for line in lines)
    assert any(
        line.startswith("forbidden packages present") and line.endswith("-") for line in lines
    )
    assert "{" not in text.split("DynamoDB per operation")[0]  # no JSON where a table fits
