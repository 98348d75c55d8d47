"""kill -9 of the bot while a tool call runs: the resumed run never runs it again unless a person says so.

Real processes, a real Redis and a real SQLite file shared by both bots (``OPS_DB``). The tool is the ``ops``
workflow's ``run_sql`` with one slow statement (a recursive count that takes a few seconds) that inserts one row
into the outbox when it ends: killed mid-way, its transaction never commits, so the outbox tells whether the
statement ran to the end, and how many times.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import post_prompt, report_to, start_task, texts
from tests.e2e.test_durable_runs import LEASE, logged
from tests.model_server import ModelServer, tool_call

SLOW_INSERT = (
    "INSERT INTO outbox (to_addr, subject, body, created_at) SELECT 'ops@example.com', 'row count', n, "
    "'2026-12-01T00:00:00+00:00' FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 12000000) SELECT count(*) AS n FROM c)"
)
ANSWERS = [tool_call("run_sql", query=SLOW_INSERT), "Logged the row count in the outbox."]


def outbox(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT to_addr, body FROM outbox").fetchall()


async def killed_while_running(slack: SlackEmulator, people: People, start_bot, database: Path):
    """The first card approved, the tool started, the bot killed: returns that card."""
    first = await start_bot(answers=ANSWERS, RUN_LEASE=LEASE, OPS_DB=str(database))
    card = await start_task(slack, people, "ops: log the row count")
    assert "Run the tool `run_sql`?" in texts(card.blocks) and "WITH RECURSIVE" in texts(card.blocks)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await logged(first, "tool run_sql started")
    await first.kill()
    await slack.wait_for(lambda: not slack.connections or None, timeout=15)
    assert outbox(database) == []  # it never finished
    return card


async def test_a_tool_killed_mid_run_is_run_again_only_when_a_person_approves(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    card = await killed_while_running(slack, people, start_bot, database)

    mark = slack.mark()
    await start_bot(answers=ANSWERS, RUN_LEASE=LEASE, OPS_DB=str(database), connections=1)
    asked = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    assert asked is not None and asked.ts != card.ts
    shown = texts(asked.blocks)
    assert "restarted while it was running the tool `run_sql`" in shown and "may or may not have taken effect" in shown
    assert outbox(database) == []  # the resumed run waits for the person; the tool has not run again

    await slack.click(people.bob, people.approvals, asked.ts, blocks.ACTION_APPROVE)
    report = await report_to(slack, people.alice, "finished")
    assert "Logged the row count" in report.text
    assert outbox(database) == [("ops@example.com", "12000000")]  # run once more, once
    cards = [m for m in slack.messages(people.approvals) if m.blocks]
    assert [m.ts for m in cards] == [card.ts, asked.ts]  # the first card was not asked again


async def test_a_tool_killed_mid_run_stays_unrun_when_the_person_declines(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    await killed_while_running(slack, people, start_bot, database)

    mark = slack.mark()
    second = await start_bot(answers=ANSWERS, RUN_LEASE=LEASE, OPS_DB=str(database), connections=1)
    asked = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    assert asked is not None
    await slack.click(people.bob, people.approvals, asked.ts, blocks.ACTION_CANCEL)

    await report_to(slack, people.alice, "finished")
    assert outbox(database) == []
    last = model_server.asked(second.model_name)[-1]  # what the agent read as the call's result
    told = next(m for m in last.messages if m.get("role") == "tool")["content"]
    assert told.startswith("Not run") and "may have run before the bot restarted" in told
