"""Edit before approve in the real bot: the Edit button opens a modal with what may be edited; a valid edit is the
editor's approval of the edited version (what runs, what the requester gets); a bad one is answered in the modal
and records nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.conditions import until
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import report_to, start_task, texts
from tests.model_server import ModelServer, tool_call

EMAIL = {"to": "ada@example.com", "subject": "We miss you", "body": "Come back!"}


def outbox(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT to_addr, subject FROM outbox ORDER BY id").fetchall()


async def open_editor(slack: SlackEmulator, people: People, card: Any, user: str) -> Any:
    """Click Edit on ``card`` as ``user``; the modal Slack shows them."""
    await slack.click(user, people.approvals, card.ts, blocks.ACTION_EDIT)
    return await slack.wait_for(lambda: (views := slack.open_views(user)) and views[-1], timeout=10)


def prefilled(view: Any) -> str:
    """What the modal's text box holds when it opens."""
    [box] = [b["element"] for b in view.blocks if b.get("block_id") == blocks.EDIT_BLOCK]
    return str(box.get("initial_value") or "")


async def submit(slack: SlackEmulator, user: str, view: Any, text: str) -> dict[str, Any]:
    """Submit the modal with ``text``; the payload of the bot's ack ({} for none: the modal closes)."""
    envelope = await slack.submit_view(user, view.id, {blocks.EDIT_BLOCK: {blocks.EDIT_ACTION: text}})
    return dict((await slack.wait_ack(envelope, timeout=3)).get("payload") or {})


async def test_edited_arguments_are_what_runs_and_the_card_shows_what_changed(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, tmp_path: Path
) -> None:
    database = tmp_path / "ops.sqlite3"
    bot = await start_bot(answers=[tool_call("send_email", **EMAIL), "Sent."], OPS_DB=str(database))
    card = await start_task(slack, people, "ops: email Ada")

    view = await open_editor(slack, people, card, people.bob)
    assert view.title == "Edit before approving" and json.loads(prefilled(view)) == EMAIL
    edited = json.dumps({**EMAIL, "subject": "Hello again"}, indent=2)
    ack = await submit(slack, people.bob, view, edited)
    await report_to(slack, people.alice, "finished")

    assert ack == {} and not slack.view(view.id).is_open
    assert outbox(database) == [("ada@example.com", "Hello again")]  # the edit ran, not what the agent proposed
    shown = await slack.wait_for(
        lambda: (m := slack.message(people.approvals, card.ts)) and "Approved with edits" in texts(m.blocks) and m, 10
    )
    assert f"Approved with edits by <@{people.bob}>" in texts(shown.blocks)
    assert '-  "subject": "We miss you"' in texts(shown.blocks) and '+  "subject": "Hello again"' in texts(shown.blocks)
    told = [m["content"] for m in model_server.asked(bot.model_name)[-1].messages if m.get("role") == "tool"]
    assert told[0].startswith(f"The reviewer ({people.bob}) edited the arguments before approving")


async def test_a_bad_edit_is_answered_in_the_modal_and_records_nothing(
    slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    database, policy = tmp_path / "ops.sqlite3", tmp_path / "policy.yml"
    policy.write_text("rules:\n  - {name: no-mail-out, tool: send_email, pattern: '@evil\\.example', action: deny}\n")
    await start_bot(answers=[tool_call("send_email", **EMAIL), "Sent."], OPS_DB=str(database), POLICY_FILE=str(policy))
    card = await start_task(slack, people, "ops: email Ada")
    view = await open_editor(slack, people, card, people.bob)

    bad_json = await submit(slack, people.bob, view, '{"to": "ada@example.com",')
    wrong_shape = await submit(slack, people.bob, view, json.dumps({"to": "ada@example.com", "subject": "x"}))
    denied = await submit(slack, people.bob, view, json.dumps({**EMAIL, "to": "eve@evil.example"}))
    unchanged = await submit(slack, people.bob, view, json.dumps(EMAIL, indent=2))

    answers = [
        ack.get("errors", {}).get(blocks.EDIT_BLOCK, repr(ack)) for ack in (bad_json, wrong_shape, denied, unchanged)
    ]
    assert answers[0].startswith("That is not valid JSON")
    assert answers[1].startswith("These arguments do not fit send_email: body")
    assert "rule no-mail-out" in answers[2]
    assert answers[3].startswith("Nothing was changed")
    assert slack.view(view.id).is_open and outbox(database) == []
    assert blocks.ACTION_APPROVE in [
        e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    still = slack.message(people.approvals, card.ts)
    assert still is not None and "Approval needed" in texts(still.blocks)  # nothing was recorded


async def test_an_edited_draft_is_the_result_the_requester_gets(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    view = await open_editor(slack, people, card, people.bob)
    assert "We launch the new billing page on Monday." in prefilled(view)

    await submit(slack, people.bob, view, "Subject: Q3 launch\n\nThe billing page goes live on Tuesday.")
    report = await report_to(slack, people.alice, "approved")

    assert "goes live on Tuesday" in report.text and "on Monday" not in report.text


async def test_a_non_approver_cannot_edit(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)

    await slack.click(people.mallory, people.approvals, card.ts, blocks.ACTION_EDIT)
    refused = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.mallory) if "approvers list" in m.text), None), timeout=10
    )

    assert refused is not None and slack.open_views(people.mallory) == []


async def test_an_edit_click_delivered_twice_opens_one_modal_and_says_nothing_more(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bot = await start_bot()
    card = await start_task(slack, people)
    click = await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_EDIT)
    await slack.wait_for(lambda: slack.open_views(people.bob), timeout=10)

    await slack.wait_ack(await slack.redeliver(click), timeout=3)
    await until(lambda: "dropped a redelivered request" in bot.output(), timeout=10, what="the copy dropped")

    assert len(slack.calls_to("views.open")) == 1 and len(slack.open_views(people.bob)) == 1
    assert [m.text for m in slack.ephemerals(people.bob)] == []  # no "could not open the editor"
