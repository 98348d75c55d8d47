"""The MCP server's pure parts: what a result says to the model, and the command line's ``--http`` address."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.cli import main
from bot.client import Decision
from bot.mcp import parse_address
from bot.mcp.results import ApprovalResult, decided, describe, pending, tool_result

AT = datetime(2026, 12, 1, 14, 2, tzinfo=UTC)


def result(status: str, **fields: object) -> ApprovalResult:
    return ApprovalResult.model_validate({"status": status, "approval_id": "ext-1.1", **fields})


def test_only_an_approval_says_go_ahead() -> None:
    lines = {
        status: describe(result(status, by="U1", at=AT.isoformat()))
        for status in ("pending", "approved", "revised", "cancelled", "expired", "denied")
    }

    assert [s for s, line in lines.items() if "Go ahead" in line] == ["approved"]
    assert all("Do not go ahead" in lines[s] for s in ("cancelled", "expired", "denied"))
    assert "get_approval" in lines["pending"] and '"ext-1.1"' in lines["pending"]
    assert "by U1" in lines["approved"] and "2026-12-01T14:02:00+00:00" in lines["approved"]


def test_feedback_and_rule_are_said() -> None:
    assert 'Feedback: "Only EU customers"' in describe(result("revised", by="U2", feedback="Only EU customers"))
    denied = describe(result("denied", by="policy:no-drops", rule="no-drops", feedback="Drops are never run."))
    assert denied.startswith("Refused by policy rule no-drops") and "Drops are never run." in denied
    assert "rule" not in describe(result("approved", by="U1", rule="default"))
    assert "Nobody decided before the deadline" in describe(result("expired"))


def test_a_decision_becomes_the_structured_result_and_the_same_json_as_text() -> None:
    decision = Decision("ext-1.1", "revised", "U2", AT, "shorter", None)

    answer = tool_result(decided(decision))

    assert answer.structured_content == {
        "status": "revised",
        "approval_id": "ext-1.1",
        "by": "U2",
        "at": "2026-12-01T14:02:00+00:00",
        "feedback": "shorter",
        "rule": None,
    }
    readable, serialized = (block.text for block in answer.content if block.type == "text")
    assert readable.startswith("Revision requested by U2")
    assert json.loads(serialized) == answer.structured_content
    assert tool_result(pending("ext-2.1")).structured_content == {
        **ApprovalResult(status="pending", approval_id="ext-2.1").model_dump()
    }


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        (":0", ("127.0.0.1", 0)),
        ("[::1]:80", ("::1", 80)),
        ("0.0.0.0:9", ("0.0.0.0", 9)),
    ],
)
def test_http_addresses(raw: str, address: tuple[str, int]) -> None:
    assert parse_address(raw) == address


@pytest.mark.parametrize("raw", ["8765", "localhost", "host:port", "h:70000", ""])
def test_a_bad_http_address_is_one_line_and_exit_2(raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mcp", "--http", raw])

    assert exited.value.code == 2
    assert "--http" in capsys.readouterr().err


def test_a_requester_the_client_would_refuse_is_refused_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mcp", "--requester", "ci,deploy"])

    assert exited.value.code == 2
    assert "comma" in capsys.readouterr().err


@pytest.mark.parametrize("raw", ["0", "-1", "61", "soon"])
def test_progress_must_come_at_least_every_60_s(raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mcp", "--progress-every", raw])

    assert exited.value.code == 2
    assert "(0, 60]" in capsys.readouterr().err
