"""``approval-bot audit`` output: every format holds exactly the entries, and CSV cannot smuggle a formula."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from bot.approvals.audit import AuditEntry
from bot.audit_export import SinceError, parse_since, render

ENTRIES = [
    AuditEntry(
        "1714000000000-0",
        "created",
        "wf1.1",
        "wf1",
        1,
        "ops",
        "U0ALICE123",
        1714000000000,
        "",
        0,
        prompt='=HYPERLINK("http://evil.example")',
        prompt_sha256="ab" * 32,
        digest="cd" * 32,
    ),
    AuditEntry(
        "1714000060000-0",
        "revised",
        "wf1.1",
        "wf1",
        1,
        "ops",
        "U0BOB45678",
        1714000060000,
        "+1 but shorter, @channel",
        60000,
    ),
]


def test_jsonl_and_json_hold_every_entry_with_its_time() -> None:
    lines = [json.loads(line) for line in render(ENTRIES, "jsonl").splitlines()]
    assert [(r["approval_id"], r["event"], r["at"]) for r in lines] == [
        ("wf1.1", "created", "2024-04-24T23:06:40.000Z"),
        ("wf1.1", "revised", "2024-04-24T23:07:40.000Z"),
    ]
    assert json.loads(render(ENTRIES, "json")) == lines


def test_csv_cells_that_would_be_formulas_are_quoted() -> None:
    rows = list(csv.DictReader(io.StringIO(render(ENTRIES, "csv"))))
    assert rows[0]["prompt"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[1]["feedback"] == "'+1 but shorter, @channel"
    assert rows[1]["waited_ms"] == "60000" and rows[0]["user"] == "U0ALICE123"


def test_text_is_one_line_per_entry() -> None:
    assert render(ENTRIES, "text").splitlines()[1] == (
        "2024-04-24T23:07:40.000Z  wf1.1  revised by U0BOB45678 after 60.0 s: +1 but shorter, @channel"
    )
    assert render([], "text") == "no audit entries\n"


def test_since_takes_iso_times_and_durations() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2026-12-01", now) == int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("2026-12-01T10:00:00+01:00", now) == int(datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("24h", now) == int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("7d", now) == int(datetime(2026, 11, 24, 12, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(SinceError, match="not an ISO 8601"):
        parse_since("yesterday", now)
