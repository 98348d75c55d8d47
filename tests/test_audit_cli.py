"""``approval-bot audit`` as a user runs it: a separate process reading the real Redis the engine wrote to."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys

from bot.approvals import ApprovalKey, ApprovalStore, Outcome, Terms
from tests.redis_server import free_port


async def audit(redis_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_"))} | {"REDIS_URL": redis_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "audit", *args, env=env, stdout=-1, stderr=-1
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_export_holds_exactly_the_decisions_made(store: ApprovalStore, redis_url: str) -> None:
    first = await store.create(
        ApprovalKey("wf-audit1", 1),
        prompt="=cmd|' /C calc'!A0",
        requester="U0ALICE123",
        workflow="ops",
        timeout_s=60,
        terms=Terms(quorum=2, kind="tool", tool="run_sql", args="=SUM(1)", rule="sql-ddl"),
    )
    second = await store.create(
        ApprovalKey("wf-audit2", 1), prompt="Ship it?", requester="U0ALICE123", workflow="draft", timeout_s=60
    )
    await store.decide(first.id, Outcome.APPROVED, "U0CAROL999")
    await store.decide(first.id, Outcome.APPROVED, "U0BOB45678")
    await store.decide(second.id, Outcome.REVISED, "U0BOB45678", "-shorter")

    code, out, err = await audit(redis_url, "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted((r["approval_id"], r["event"], r["user"]) for r in rows) == [
        ("wf-audit1.1", "approval_counted", "U0CAROL999"),
        ("wf-audit1.1", "approved", "U0BOB45678"),
        ("wf-audit1.1", "created", "U0ALICE123"),
        ("wf-audit2.1", "created", "U0ALICE123"),
        ("wf-audit2.1", "revised", "U0BOB45678"),
    ]

    approved = next(r for r in rows if r["event"] == "approved")
    assert (approved["deciders"], approved["kind"], approved["tool"], approved["rule"]) == (
        "U0CAROL999,U0BOB45678",
        "tool",
        "run_sql",
        "sql-ddl",
    )

    code, out, _ = await audit(redis_url, "--format", "csv", "--since", "1h")
    cells = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(cells) == 5
    assert {c["args"] for c in cells if c["event"] == "created"} == {"'=SUM(1)", ""}
    assert {c["prompt"] for c in cells if c["event"] == "created"} == {"'=cmd|' /C calc'!A0", "Ship it?"}
    assert {c["feedback"] for c in cells if c["event"] == "revised"} == {"'-shorter"}


async def test_bad_arguments_and_an_unreachable_redis_are_one_line_each(redis_url: str) -> None:
    code, out, err = await audit(redis_url, "--since", "last tuesday")
    assert (code, out) == (2, "") and err.strip().startswith("approval-bot: --since 'last tuesday' is not")
    code, _, err = await audit(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot reach Redis" in err and "hunter2" not in err
