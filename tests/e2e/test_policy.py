"""The risk policy in the real bot: reads run at once, DDL is refused without a card, the rest asks a person;
each automatic answer is audited as the policy's, and a bad policy file stops the start with one line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import redis.asyncio as aioredis

from bot.approvals.audit import read_audit
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import report_to, start_task, texts
from tests.model_server import ModelServer, tool_call
from tests.test_audit_cli import audit

EMAIL = {"to": "alan@example.com", "subject": "We miss you", "body": "Come back, Alan."}
ANSWERS = [
    tool_call("find_customers", status="inactive"),
    tool_call("run_sql", query="DROP TABLE customers"),
    tool_call("send_email", **EMAIL),
    "Emailed Alan; dropping the table was refused.",
]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_the_built_in_policy_runs_reads_refuses_ddl_and_asks_about_the_rest(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, redis_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    bot = await start_bot(answers=ANSWERS, OPS_DB=str(database))

    card = await start_task(slack, people, "ops: win back inactive customers")  # the first card is the email

    assert "Run the tool `send_email`?" in texts(card.blocks) and "alan@example.com" in texts(card.blocks)
    refused = await report_to(slack, people.alice, "refused")
    assert "`sql-ddl`" in refused.text and "DROP TABLE customers" in refused.text
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    report = await report_to(slack, people.alice, "finished")

    assert "Emailed Alan" in report.text
    assert [m.ts for m in slack.messages(people.approvals) if m.blocks] == [card.ts]  # no card for the others
    assert "customers" in tables(database)
    told = [m["content"] for m in model_server.asked(bot.model_name)[-1].messages if m.get("role") == "tool"]
    assert told[1] == "Not run: run_sql was refused (denied by the policy (rule sql-ddl))."
    redis = aioredis.from_url(redis_url)
    try:
        decided = [(e.step, e.event, e.user) for e in await read_audit(redis) if e.event != "created"]
    finally:
        await redis.aclose()
    assert decided == [(1, "approved", "policy:reads"), (2, "cancelled", "policy:sql-ddl"), (3, "approved", people.bob)]


async def test_a_policy_file_decides_what_needs_a_person(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "rules:\n"
        "  - {name: no-mail-to-alan, tool: send_email, pattern: 'alan@', action: deny}\n"
        "  - {name: everything-else, action: auto}\n"
    )
    database = tmp_path / "ops.sqlite3"
    await start_bot(answers=ANSWERS, OPS_DB=str(database), POLICY_FILE=str(policy))
    command = await slack.slash_command(people.alice, "ops: win back inactive customers", channel_id=people.general)
    await slack.wait_ack(command, timeout=3)

    await report_to(slack, people.alice, "finished")

    assert not [m for m in slack.messages(people.approvals) if m.blocks]  # nobody was asked
    assert "customers" not in tables(database)  # this policy let the DROP run: the rule file is obeyed
    refused = [m.text for m in slack.ephemerals(people.alice) if m.text.startswith("🚫")]
    assert len(refused) == 1 and "`no-mail-to-alan`" in refused[0]


async def test_a_shadow_rule_asks_a_person_and_the_report_shows_how_often_people_agreed(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("rules:\n  - {name: reads, tool: 'find_*', action: auto, shadow: true}\n")
    answers = [tool_call("find_customers", status="inactive"), "Two customers are inactive."]
    await start_bot(answers=answers, OPS_DB=str(tmp_path / "ops.sqlite3"), POLICY_FILE=str(policy))

    card = await start_task(slack, people, "ops: who is inactive?")  # a shadow auto rule still asks
    assert "shadow: the rule would have approved this" in texts(card.blocks)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "finished")

    code, out, err = await audit(redis_url, "--policy-report", "--format", "json")
    assert code == 0, err
    [reads] = [row for row in json.loads(out) if row["rule"] == "reads"]
    assert (reads["matched"], reads["approved"], reads["agreed"], reads["agreement"]) == (1, 1, 1, 1.0)
