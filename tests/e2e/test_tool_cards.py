"""Tool calls in the real bot: the calls of one model turn on one card, decided each (and "Approve all"); a rule
that needs two different approvers; a requester refused their own approval. What runs is what was approved, and
the audit holds exactly the decisions made."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bot.approvals.audit import AuditEntry, read_audit
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import post_prompt, report_to, start_task, texts
from tests.model_server import ModelServer

ADA = {"to": "ada@example.com", "subject": "Hello Ada", "body": "We miss you."}
BOB = {"to": "bob@example.com", "subject": "Hello Bob", "body": "We miss you."}


def turn(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """One model answer calling several tools at once."""
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in calls]}


def buttons(message_blocks: list[dict[str, Any]], action_id: str) -> list[str]:
    """The values of the card's buttons with ``action_id``, in the card's order (one per pending call)."""
    return [
        e["value"]
        for b in message_blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]


def approval_id(value: str) -> str:
    """A button's value is the approval's id and the start of the digest of what the card shows."""
    return value.partition("|")[0]


def outbox(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT to_addr FROM outbox ORDER BY id")]


def customer_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT id FROM customers ORDER BY id")]


async def audit(redis_url: str) -> list[AuditEntry]:
    redis = aioredis.from_url(redis_url)
    try:
        return await read_audit(redis)
    finally:
        await redis.aclose()


async def card_where(slack: SlackEmulator, people: People, ts: str, words: str, timeout: float = 10):
    return await slack.wait_for(
        lambda: (m := slack.message(people.approvals, ts)) is not None and words in texts(m.blocks) and m, timeout
    )


async def test_the_calls_of_one_turn_share_a_card_and_each_is_decided_on_its_own(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, redis_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [
        turn(("send_email", ADA), ("send_email", BOB), ("delete_customers", {"ids": [3]}), ("find_customers", {})),
        "Emailed Ada and deleted customer 3; Bob's email was refused.",
    ]
    bot = await start_bot(answers=answers, OPS_DB=str(database))

    card = await start_task(slack, people, "ops: tidy up")
    ada, bob, delete = buttons(card.blocks, blocks.ACTION_APPROVE)  # the read ran at once: no button for it

    assert [m.ts for m in slack.messages(people.approvals) if m.blocks] == [card.ts]  # one card for the turn
    assert "Call 1 of 3" in texts(card.blocks) and "bob@example.com" in texts(card.blocks)
    assert texts(card.blocks).count("No policy rule matched") == 3
    assert buttons(card.blocks, blocks.ACTION_APPROVE_ALL) == [f"{ada},{bob},{delete}"]  # what this version shows
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_CANCEL, value=bob)
    after_cancel = await card_where(slack, people, card.ts, f"Cancelled by <@{people.bob}>")
    assert buttons(after_cancel.blocks, blocks.ACTION_APPROVE) == [ada, delete]  # the others still wait
    await slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_APPROVE_ALL)
    report = await report_to(slack, people.alice, "finished")

    assert "Emailed Ada" in report.text
    assert outbox(database) == ["ada@example.com"] and 3 not in customer_ids(database)
    final = await card_where(slack, people, card.ts, "every call is decided")
    assert buttons(final.blocks, blocks.ACTION_APPROVE) == [] and texts(final.blocks).count("Approved by") == 2
    told = [m["content"] for m in model_server.asked(bot.model_name)[-1].messages if m.get("role") == "tool"]
    assert told[1] == "Not run: send_email was refused (cancelled by " + people.bob + ")."
    decided = sorted(
        (e.approval_id, e.tool, e.event, e.deciders) for e in await audit(redis_url) if e.event != "created"
    )
    read = next(e.approval_id for e in await audit(redis_url) if e.tool == "find_customers")
    assert decided == sorted(
        [
            (approval_id(ada), "send_email", "approved", people.alice),
            (approval_id(bob), "send_email", "cancelled", people.bob),
            (approval_id(delete), "delete_customers", "approved", people.alice),
            (read, "find_customers", "approved", "policy:reads"),
        ]
    )


async def test_a_revision_asked_for_one_call_goes_to_that_call_only(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [turn(("send_email", ADA), ("send_email", BOB)), "Emailed Ada; Bob's email needs another subject."]
    bot = await start_bot(answers=answers, OPS_DB=str(database))
    card = await start_task(slack, people, "ops: say hello")
    ada, bob = buttons(card.blocks, blocks.ACTION_APPROVE)

    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_REVISE, value=bob)
    ask = await slack.next_call("chat.postMessage", since=mark, where=lambda c: c.params.get("thread_ts") == card.ts)
    await slack.user_message(people.bob, people.approvals, "use a friendlier subject", thread_ts=card.ts)
    revised = await card_where(slack, people, card.ts, "Revision requested by")
    assert buttons(revised.blocks, blocks.ACTION_APPROVE) == [ada]
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE, value=ada)
    await report_to(slack, people.alice, "finished")

    assert "call 2 (`send_email`)" in ask.params["text"]
    assert outbox(database) == ["ada@example.com"]
    told = [m["content"] for m in model_server.asked(bot.model_name)[-1].messages if m.get("role") == "tool"]
    assert not told[0].startswith("Not run") and told[1].startswith("Not run") and "friendlier subject" in told[1]


async def test_ask_two_needs_two_different_approvers_and_the_same_one_twice_is_refused(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    database, policy = tmp_path / "ops.sqlite3", tmp_path / "policy.yml"
    policy.write_text("rules:\n  - {name: deletes, tool: 'delete_*', action: ask_two, risk: high}\n")
    answers = [turn(("delete_customers", {"ids": [2]})), "Deleted customer 2."]
    await start_bot(answers=answers, OPS_DB=str(database), POLICY_FILE=str(policy))

    card = await start_task(slack, people, "ops: delete customer 2")
    assert "0 of 2 approvals" in texts(card.blocks) and "risk *high*" in texts(card.blocks)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await card_where(slack, people, card.ts, f"1 of 2 approvals: <@{people.bob}>")
    assert 2 in customer_ids(database)  # one approval is not enough
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    refused = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.bob) if "counted already" in m.text), None), timeout=10
    )
    assert "different approvers" in refused.text and 2 in customer_ids(database)
    await slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "finished")

    assert 2 not in customer_ids(database)
    await card_where(slack, people, card.ts, f"Approved by <@{people.bob}> and <@{people.alice}>")
    events = [(e.event, e.user, e.deciders) for e in await audit(redis_url) if e.event != "created"]
    assert events == [
        ("approval_counted", people.bob, people.bob),  # the approvers so far
        ("duplicate_approval", people.bob, people.bob),
        ("approved", people.alice, f"{people.bob},{people.alice}"),
    ]


async def test_self_approval_denied_refuses_the_requester_privately_and_audits_the_attempt(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [turn(("send_email", ADA)), "Emailed Ada."]
    await start_bot(answers=answers, OPS_DB=str(database), SELF_APPROVAL="deny")

    card = await start_task(slack, people, "ops: email Ada")  # alice asks, and alice is an approver
    await slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_APPROVE)
    refused = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.alice) if "separation of duties" in m.text), None), timeout=10
    )
    assert outbox(database) == [] and refused.text.startswith("You started this run")
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "finished")

    assert outbox(database) == ["ada@example.com"]
    events = [(e.event, e.user) for e in await audit(redis_url) if e.event != "created"]
    assert events == [("self_approval_refused", people.alice), ("approved", people.bob)]


async def test_a_tool_card_nobody_decides_expires_and_the_agent_reads_that_it_did_not_run(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [turn(("send_email", ADA)), "Nobody approved the email to Ada, so I did not send it."]
    bot = await start_bot(answers=answers, OPS_DB=str(database), APPROVAL_TIMEOUT="1")

    card = await start_task(slack, people, "ops: email Ada")
    await card_where(slack, people, card.ts, "Expired")
    report = await report_to(slack, people.alice, "finished")

    assert "did not send it" in report.text and outbox(database) == []
    told = [m["content"] for m in model_server.asked(bot.model_name)[-1].messages if m.get("role") == "tool"]
    assert told == ["Not run: nobody approved send_email before the deadline."]


async def test_a_card_of_several_calls_survives_kill_9_with_its_decisions(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    answers = [turn(("send_email", ADA), ("send_email", BOB)), "Emailed Ada and Bob."]
    first = await start_bot(answers=answers, OPS_DB=str(database), RUN_LEASE="2")
    card = await start_task(slack, people, "ops: say hello")
    ada, bob = buttons(card.blocks, blocks.ACTION_APPROVE)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE, value=ada)
    await card_where(slack, people, card.ts, "Approved by")

    await first.kill()
    await slack.wait_for(lambda: not slack.connections or None, timeout=15)
    await start_bot(answers=answers, OPS_DB=str(database), RUN_LEASE="2", connections=1)
    await slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_APPROVE, value=bob)
    await report_to(slack, people.alice, "finished")

    assert sorted(outbox(database)) == [
        "ada@example.com",
        "bob@example.com",
    ]  # each once (the turn's calls run together)
    assert [m.ts for m in slack.messages(people.approvals) if m.blocks] == [card.ts]  # the same card, not a new one
    await card_where(slack, people, card.ts, "every call is decided")


async def test_a_click_on_another_version_of_a_request_is_refused_and_changes_nothing(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    await start_bot(answers=[turn(("send_email", ADA)), "Emailed Ada."], OPS_DB=str(database))
    card = await start_task(slack, people, "ops: email Ada")
    [shown] = buttons(card.blocks, blocks.ACTION_APPROVE)
    assert len(shown.partition("|")[2]) == 16  # the click carries what the card showed

    stale = f"{approval_id(shown)}|{'0' * 16}"  # a version of the request that asked something else
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE, value=stale)
    refused = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.bob) if "another version" in m.text), None), timeout=10
    )
    assert "nothing was recorded" in refused.text and outbox(database) == []
    assert buttons(slack.message(people.approvals, card.ts).blocks, blocks.ACTION_APPROVE) == [shown]  # still asking
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE, value=shown)
    await report_to(slack, people.alice, "finished")
    assert outbox(database) == ["ada@example.com"]


async def test_a_call_whose_target_changed_after_approval_is_asked_again_before_it_runs(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    await start_bot(answers=[turn(("delete_customers", {"ids": [3, 4]})), "Deleted."], OPS_DB=str(database))
    card = await start_task(slack, people, "ops: delete the inactive customers")
    assert "3: Alan Turing" in texts(card.blocks) and "4: Edsger Dijkstra" in texts(card.blocks)

    with sqlite3.connect(database) as db:  # someone else deletes Alan while the card waits
        db.execute("DELETE FROM customers WHERE id = 3")
    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    again = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])

    assert again is not None and "4: Edsger Dijkstra" in texts(again.blocks)
    assert "Alan Turing" not in texts(again.blocks) and 4 in customer_ids(database)  # nothing ran meanwhile
    await slack.click(people.bob, people.approvals, again.ts, blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "finished")
    assert customer_ids(database) == [1, 2, 5]
