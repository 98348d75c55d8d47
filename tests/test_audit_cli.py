"""``approval-bot audit`` as a user runs it: a separate process reading the real Redis the engine wrote to."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys

from bot.approvals import ApprovalKey, ApprovalStore, Outcome, StoreSettings, Terms, keys
from tests.engine import close_store, open_store
from tests.redis_server import free_port


async def audit(redis_url: str, *args: str, **extra: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "AUDIT_"))}
    env |= {"REDIS_URL": redis_url, **extra}
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


async def test_verify_exits_0_when_intact_and_1_naming_the_altered_entry(store: ApprovalStore, redis_url: str) -> None:
    approval = await store.create(
        ApprovalKey("wf-verify", 1), prompt="Ship it?", requester="U0ALICE123", workflow="draft", timeout_s=60
    )
    await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    code, out, err = await audit(redis_url, "--verify")
    assert (code, err) == (0, ""), out
    assert "intact: 2 entries" in out and "without AUDIT_HMAC_KEY" in out

    stream = keys.audit_key(keys.bucket(approval.id))
    (first_id, fields), *_ = await store.redis.xrange(stream)
    await store.redis.delete(stream)
    await store.redis.xadd(stream, {**fields, "prompt": "Delete everything?"}, id=first_id)
    code, out, _ = await audit(redis_url, "--verify")
    assert code == 1 and f"BROKEN at {first_id}: altered" in out


async def test_verify_with_the_key_checks_the_seals_and_never_prints_the_key(redis_url: str) -> None:
    key = "0123456789abcdef" * 4
    store = await open_store(redis_url, StoreSettings(audit_hmac_key=key.encode()))
    try:
        await store.create(
            ApprovalKey("wf-seal", 1), prompt="Ship it?", requester="U0ALICE123", workflow="draft", timeout_s=60
        )
        assert await store.seal_audit() == 1
    finally:
        await close_store(store)
    code, out, err = await audit(redis_url, "--verify", AUDIT_HMAC_KEY=key)
    assert (code, err) == (0, "") and "sealed with AUDIT_HMAC_KEY" in out and key not in out
    code, out, _ = await audit(redis_url, "--verify", AUDIT_HMAC_KEY="f" * 64)
    assert code == 1 and "bad seal" in out and "f" * 64 not in out
    code, out, err = await audit(redis_url, "--verify", AUDIT_HMAC_KEY="short")
    assert (code, out) == (2, "") and "AUDIT_HMAC_KEY must be at least 32 characters" in err and "short" not in err
