"""The real bot process, the emulator and a real Redis: the paths a person takes through an approval."""

from __future__ import annotations

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import DRAFT_1, DRAFT_2, People


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
    call = await slack.next_call(
        "chat.postMessage", timeout=20, since=since, where=lambda c: c.params.get("channel") == people.approvals
    )
    return call


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
    assert action_ids(card.blocks) == [blocks.ACTION_APPROVE, blocks.ACTION_REVISE, blocks.ACTION_CANCEL]

    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await slack.next_call("chat.update", timeout=10, since=mark)
    updated = slack.message(people.approvals, card.ts)
    report = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.alice) if "approved" in m.text), None), timeout=10
    )

    assert action_ids(updated.blocks) == []
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)
    assert "billing page" in report.text and f"<@{people.bob}>" in report.text
    assert DRAFT_1.splitlines()[0] in report.text
    assert DRAFT_2 not in report.text
