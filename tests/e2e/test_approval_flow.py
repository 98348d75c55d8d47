"""The real bot process, the emulator and a real Redis: the paths a person takes through an approval."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import DRAFT_1, DRAFT_2, People
from tests.model_server import ModelServer


def texts(message_blocks: list[dict]) -> str:
    """Every text in a message's blocks, joined: what a person reads."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message_blocks)
    return "\n".join(found)


def action_ids(message_blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in message_blocks if b["type"] == "actions" for e in b["elements"]]


async def post_prompt(slack: SlackEmulator, people: People, since: int):
    return await slack.next_call(
        "chat.postMessage",
        timeout=20,
        since=since,
        where=lambda c: c.ok and c.params.get("channel") == people.approvals and not c.params.get("thread_ts"),
    )


DECISION_BUTTONS = [blocks.ACTION_APPROVE, blocks.ACTION_EDIT, blocks.ACTION_REVISE, blocks.ACTION_CANCEL]


async def decided_card(slack: SlackEmulator, people: People, ts: str):
    """The card once its decision buttons are gone (the update may land after the next prompt is posted; an
    expired card keeps an Ask again button)."""
    return await slack.wait_for(
        lambda: (
            (m := slack.message(people.approvals, ts)) is not None
            and not set(action_ids(m.blocks)) & set(DECISION_BUTTONS)
            and m
        ),
        timeout=10,
    )


async def test_slash_command_prompt_then_approve(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    mark = slack.mark()

    command = await slack.slash_command(people.alice, "Announce the Q3 launch", channel_id=people.general)
    ack = await slack.wait_ack(command, timeout=3)
    prompt = await post_prompt(slack, people, mark)
    card = slack.message(people.approvals, prompt.response["ts"])

    assert "Started" in ack["payload"]["text"] and f"<#{people.approvals}>" in ack["payload"]["text"]
    assert "Q3 launch" in texts(card.blocks) and "billing page" in texts(card.blocks)
    assert f"<@{people.alice}>" in texts(card.blocks)
    assert action_ids(card.blocks) == DECISION_BUTTONS

    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    updated = await decided_card(slack, people, card.ts)
    report = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.alice) if "approved" in m.text), None), timeout=10
    )

    assert action_ids(updated.blocks) == []
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)
    assert "billing page" in report.text and f"<@{people.bob}>" in report.text
    assert DRAFT_1.splitlines()[0] in report.text
    assert DRAFT_2 not in report.text


async def start_task(slack: SlackEmulator, people: People, text: str = "Announce the Q3 launch", **kwargs):
    """Type the command and return the approval card it leads to."""
    mark = slack.mark()
    command = await slack.slash_command(people.alice, text, channel_id=people.general, **kwargs)
    await slack.wait_ack(command, timeout=3)
    prompt = await post_prompt(slack, people, mark)
    return slack.message(people.approvals, prompt.response["ts"])


async def revise_in_thread(slack: SlackEmulator, people: People, ts: str, feedback: str) -> None:
    """Bob clicks Revise on the card at ``ts`` and, once the bot asks in its thread, replies there."""
    mark = slack.mark()
    await slack.click(people.bob, people.approvals, ts, blocks.ACTION_REVISE)
    await slack.next_call("chat.postMessage", since=mark, where=lambda c: c.params.get("thread_ts") == ts)
    await slack.user_message(people.bob, people.approvals, feedback, thread_ts=ts)


async def report_to(slack: SlackEmulator, user: str, word: str):
    return await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(user) if word in m.text and "Your" in m.text), None), timeout=15
    )


async def test_revise_through_the_thread_then_approve(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)

    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_REVISE)
    ask = await slack.next_call("chat.postMessage", since=mark, where=lambda c: c.params.get("thread_ts") == card.ts)
    await slack.user_message(people.bob, people.approvals, "Shorter, & mention #billing", thread_ts=card.ts)
    second = await post_prompt(slack, people, mark)
    revised = await decided_card(slack, people, card.ts)
    new_card = slack.message(people.approvals, second.response["ts"])

    assert "Reply in this thread" in ask.params["text"]
    assert action_ids(revised.blocks) == []
    assert f"Revision requested by <@{people.bob}>" in texts(revised.blocks)
    assert "Shorter, &amp; mention #billing" in texts(revised.blocks)
    assert "Questions to #billing" in texts(new_card.blocks)  # the agent's revision
    assert "Shorter" in texts(new_card.blocks)  # linked to the feedback that caused it
    assert f"/archives/{people.approvals}/p{card.ts.replace('.', '')}|" in texts(new_card.blocks)
    back_link = f"/archives/{people.approvals}/p{new_card.ts.replace('.', '')}|"
    await slack.wait_for(lambda: [m for m in slack.thread(people.approvals, card.ts) if back_link in m.text], 10)
    assert action_ids(new_card.blocks) == DECISION_BUTTONS

    await slack.click(people.alice, people.approvals, new_card.ts, blocks.ACTION_APPROVE)
    report = await report_to(slack, people.alice, "approved")
    assert "Questions to #billing" in report.text


async def test_cancel_ends_the_run_and_tells_the_requester(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)

    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_CANCEL)
    report = await report_to(slack, people.alice, "cancelled")

    assert f"Cancelled by <@{people.bob}>" in texts((await decided_card(slack, people, card.ts)).blocks)
    assert f"<@{people.bob}>" in report.text
    cancel_button = next(
        e for b in card.blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "approval_cancel"
    )
    assert cancel_button["style"] == "danger" and "confirm" in cancel_button


async def test_unauthorized_click_changes_nothing(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)
    mark = slack.mark()

    await slack.click(people.mallory, people.approvals, card.ts, blocks.ACTION_APPROVE)
    refusal = await slack.wait_for(lambda: next(iter(slack.ephemerals(people.mallory)), None), timeout=10)
    await slack.user_message(people.mallory, people.approvals, f"<@{slack.bot_user_id}> ship it", thread_ts=card.ts)
    reply_refusal = await slack.wait_for(lambda: slack.ephemerals(people.mallory)[1:2], timeout=10)

    assert "not on the approvers list" in refusal.text
    assert "Only approvers' replies can go back to the agent" in reply_refusal[0].text
    assert [c for c in slack.calls[mark:] if c.method == "chat.update"] == []
    assert action_ids(slack.message(people.approvals, card.ts).blocks) != []
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)  # still decidable
    assert f"<@{people.bob}>" in (await report_to(slack, people.alice, "approved")).text


async def test_double_click_by_two_approvers_records_one(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)

    await asyncio.gather(
        slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_APPROVE),
        slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_CANCEL),
    )
    told = await slack.wait_for(
        lambda: next(
            (m for m in slack.ephemerals(people.alice) + slack.ephemerals(people.bob) if "already" in m.text), None
        ),
        timeout=10,
    )
    report = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.alice) if "Your" in m.text), None), timeout=10
    )

    outcome = texts((await decided_card(slack, people, card.ts)).blocks)
    if "Approved by" in outcome:
        assert "approved" in report.text and f"already approved by <@{people.alice}>" in told.text
    else:
        assert "cancelled" in report.text and f"already cancelled by <@{people.bob}>" in told.text


async def test_model_config_may_give_the_drafter_a_model_of_its_own(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer, tmp_path: Path
) -> None:
    config = tmp_path / "models.json"
    roles = {
        "default": model_server.config(model_server.add_answers(["Written by the default model."])),
        "draft.drafter": model_server.config(model_server.add_answers(["Written by the drafter's model."])),
    }
    config.write_text(json.dumps(roles))
    await start_bot(MODEL_CONFIG=str(config))

    card = await start_task(slack, people)

    assert "Written by the drafter's model." in texts(card.blocks)


async def test_revised_cards_show_what_changed_and_max_revisions_ends_the_run(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot(MAX_REVISIONS="1")
    card = await start_task(slack, people)

    mark = slack.mark()
    await revise_in_thread(slack, people, card.ts, "mention #billing")
    second = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    shown = texts(second.blocks)
    assert "Revision 1 of at most 1" in shown and "a Revise here ends the run" in shown
    assert "-We launch the new billing page on Monday." in shown  # the diff: the line that went...
    assert "+Billing page: live Monday. Questions to #billing." in shown  # ...and the line that came

    await revise_in_thread(slack, people, second.ts, "shorter still")
    report = await report_to(slack, people.alice, "cancelled")
    assert "MAX_REVISIONS is 1" in report.text
    last = await decided_card(slack, people, second.ts)
    assert "MAX_REVISIONS is 1, so the run stopped here" in texts(last.blocks)
    assert len([m for m in slack.messages(people.approvals) if m.blocks]) == 2  # no third version was drafted
