"""Slack's rate limits, met by the real bot process: ten runs asking at once all get their card, once."""

from __future__ import annotations

import asyncio

from bot.sandbox import SlackEmulator
from tests.e2e.conftest import People


async def test_ten_runs_asking_at_once_all_get_one_card(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot(answers=["Deploy the billing page?"] * 10)
    mark = slack.mark()

    commands = await asyncio.gather(
        *(slack.slash_command(people.alice, f"Task number {n}", channel_id=people.general) for n in range(10))
    )
    for command in commands:
        await slack.wait_ack(command, timeout=3)

    def cards() -> list | None:
        top = [m for m in slack.messages(people.approvals) if m.blocks]
        return top if len(top) >= 10 else None

    posted = await slack.wait_for(cards, timeout=60)
    limited = [c for c in slack.calls[mark:] if c.method == "chat.postMessage" and c.status == 429]
    assert limited, "the emulator's per-channel limit was not reached: this test proves nothing"
    assert len(posted) == 10
    workflows = {next(b for b in m.blocks if b["type"] == "section")["text"]["text"] for m in posted}
    assert len(workflows) == 10  # ten different runs, none twice
    assert [m for m in slack.ephemerals(people.alice) if "cancelled" in m.text] == []
