"""``approval-bot audit`` output: every format holds exactly the entries, and CSV cannot smuggle a formula."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, fields
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
    AuditEntry(
        "1714000000000-1",
        "created",
        "wf2.1",
        "wf2",
        1,
        "ops",
        "U0ALICE123",
        1714000000000,
        "",
        0,
        kind="tool",
        tool="@run_sql",
        args='=cmd|" /C calc"!A0',
        rule="-sql-ddl",
        risk="high",
        quorum=2,
        self_approval="deny",
    ),
    AuditEntry(
        "1714000090000-0",
        "approved",
        "wf2.1",
        "wf2",
        1,
        "ops",
        "U0CAROL999",
        1714000090000,
        "",
        90000,
        kind="tool",
        tool="run_sql",
        rule="sql-ddl",
        deciders="U0BOB45678,U0CAROL999",
    ),
]


def test_jsonl_and_json_hold_every_entry_with_its_time() -> None:
    lines = [json.loads(line) for line in render(ENTRIES, "jsonl").splitlines()]
    assert [(r["approval_id"], r["event"], r["at"]) for r in lines] == [
        ("wf1.1", "created", "2024-04-24T23:06:40.000Z"),
        ("wf1.1", "revised", "2024-04-24T23:07:40.000Z"),
        ("wf2.1", "created", "2024-04-24T23:06:40.000Z"),
        ("wf2.1", "approved", "2024-04-24T23:08:10.000Z"),
    ]
    assert (lines[2]["args"], lines[2]["quorum"], lines[2]["self_approval"]) == ('=cmd|" /C calc"!A0', 2, "deny")
    assert lines[3]["deciders"] == "U0BOB45678,U0CAROL999"
    assert json.loads(render(ENTRIES, "json")) == lines


def test_csv_cells_that_would_be_formulas_are_quoted() -> None:
    rows = list(csv.DictReader(io.StringIO(render(ENTRIES, "csv"))))
    assert rows[0]["prompt"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[1]["feedback"] == "'+1 but shorter, @channel"
    assert rows[1]["waited_ms"] == "60000" and rows[0]["user"] == "U0ALICE123"
    assert (rows[2]["args"], rows[2]["tool"], rows[2]["rule"]) == ('\'=cmd|" /C calc"!A0', "'@run_sql", "'-sql-ddl")
    assert (rows[2]["kind"], rows[2]["risk"], rows[2]["quorum"], rows[2]["self_approval"]) == (
        "tool",
        "high",
        "2",
        "deny",
    )
    assert (rows[3]["deciders"], rows[3]["count"]) == ("U0BOB45678,U0CAROL999", "0")


def test_csv_has_a_column_for_every_field_and_quotes_every_text_cell_that_could_be_a_formula() -> None:
    with_texts = AuditEntry(**{f.name: f"={f.name}" if f.type == "str" else 1 for f in fields(AuditEntry)})

    [cells] = list(csv.DictReader(io.StringIO(render([with_texts], "csv"))))

    assert list(cells) == ["at", *(f.name for f in fields(AuditEntry))]
    texts = {name: value for name, value in asdict(with_texts).items() if isinstance(value, str)}
    assert {"args", "tool", "rule", "deciders", "prompt", "feedback"} <= set(texts)
    assert {name: cells[name] for name in texts} == {name: "'" + value for name, value in texts.items()}


def test_text_is_one_line_per_entry() -> None:
    lines = render(ENTRIES, "text").splitlines()
    assert lines[1] == "2024-04-24T23:07:40.000Z  wf1.1  revised by U0BOB45678 after 60.0 s: +1 but shorter, @channel"
    assert lines[3] == "2024-04-24T23:08:10.000Z  wf2.1  approved by U0BOB45678, U0CAROL999 after 90.0 s, rule sql-ddl"
    assert render([], "text") == "no audit entries\n"


def test_since_takes_iso_times_and_durations() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2026-12-01", now) == int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("2026-12-01T10:00:00+01:00", now) == int(datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("24h", now) == int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("7d", now) == int(datetime(2026, 11, 24, 12, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(SinceError, match="not an ISO 8601"):
        parse_since("yesterday", now)
