"""Standing approvals in the real bot: granted from a tool-call card with its approval, they approve matching calls
without a card (audited as ``standing:<id>``), stop when revoked from the card, and end when the policy changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bot.approvals.audit import read_audit
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import post_prompt, report_to, start_task, texts
from tests.model_server import tool_call

ADA = {"to": "ada@example.com", "subject": "Hello", "body": "Hi Ada."}
BOB = {"to": "bob@example.com", "subject": "Hello", "body": "Hi Bob."}
CARL = {"to": "carl@example.com", "subject": "Hello", "body": "Hi Carl."}


def outbox(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT to_addr FROM outbox ORDER BY id")]


def cards(slack: SlackEmulator, people: People) -> list[Any]:
    return [m for m in slack.messages(people.approvals) if m.blocks]


async def deciders(redis_url: str) -> list[str]:
    redis = aioredis.from_url(redis_url)
    try:
        return [e.user for e in await read_audit(redis) if e.event == "approved"]
    finally:
        await redis.aclose()


async def test_allow_for_the_run_approves_the_next_such_call_without_a_card_until_revoked(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [
        tool_call("send_email", **ADA),
        tool_call("send_email", **BOB),  # covered: no card
        tool_call("delete_customers", ids=[3]),  # another tool: asked
        tool_call("send_email", **CARL),  # asked again: the standing approval was revoked meanwhile
        "Emailed Ada, Bob and Carl; deleted customer 3.",
    ]
    await start_bot(answers=answers, OPS_DB=str(database))
    first = await start_task(slack, people, "ops: say hello")
    assert "Approve + allow send_email for this run" in texts(first.blocks)

    mark = slack.mark()
    await slack.click(people.bob, people.approvals, first.ts, "standing_run_tool")
    delete = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    assert delete is not None and "delete_customers" in texts(delete.blocks)
    assert outbox(database) == ["ada@example.com", "bob@example.com"]  # Bob's email ran without a card
    granted = await slack.wait_for(
        lambda: (m := slack.message(people.approvals, first.ts)) and "Also allowed" in texts(m.blocks) and m, 10
    )
    assert "`send_email` with any arguments, for the rest of this run" in texts(granted.blocks)

    await slack.click(people.alice, people.approvals, first.ts, blocks.ACTION_REVOKE)
    await slack.wait_for(
        lambda: (m := slack.message(people.approvals, first.ts)) and "revoked by" in texts(m.blocks) and m, 10
    )
    mark = slack.mark()
    await slack.click(people.bob, people.approvals, delete.ts, blocks.ACTION_APPROVE)
    carl = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    assert carl is not None and "carl@example.com" in texts(carl.blocks)  # asked: the grant was revoked
    await slack.click(people.bob, people.approvals, carl.ts, blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "finished")

    assert outbox(database) == ["ada@example.com", "bob@example.com", "carl@example.com"]
    approved_by = await deciders(redis_url)
    assert approved_by[0] == people.bob and approved_by[1].startswith("standing:st-")
    assert approved_by[2:] == [people.bob, people.bob] and len(cards(slack, people)) == 3


async def test_a_time_boxed_grant_covers_the_next_run_and_ends_when_the_policy_changes(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [tool_call("send_email", **ADA), "Emailed Ada."]
    first_bot = await start_bot(answers=answers, OPS_DB=str(database))
    card = await start_task(slack, people, "ops: email Ada")
    await slack.click(people.bob, people.approvals, card.ts, "standing_timebox_exact")
    await report_to(slack, people.alice, "finished")

    command = await slack.slash_command(people.alice, "ops: email Ada again", channel_id=people.general)
    await slack.wait_ack(command, timeout=3)
    await slack.wait_for(lambda: len([m for m in slack.ephemerals(people.alice) if "finished" in m.text]) == 2, 15)
    assert outbox(database) == ["ada@example.com"] * 2 and len(cards(slack, people)) == 1  # no card the second time

    await first_bot.stop()
    policy = tmp_path / "policy.yml"
    policy.write_text("rules:\n  - {name: reads, tool: 'find_*', action: auto}\n")  # another policy, another digest
    await start_bot(answers=answers, OPS_DB=str(database), POLICY_FILE=str(policy), connections=1)
    third = await start_task(slack, people, "ops: email Ada once more")
    assert "ada@example.com" in texts(third.blocks)  # asked: the grant was made under the old policy
