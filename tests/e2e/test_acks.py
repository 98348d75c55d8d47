"""Acks never wait on Redis, and a delivery is never dropped: the real bot process against a stalled redis-server."""

from __future__ import annotations

import asyncio
import time

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import decided_card, report_to, start_task, texts

STALL_S = 6.0
"""Longer than Slack's 3 s ack limit and than redis-py's retries: what the review reproduced lost clicks with."""


async def test_a_redis_stall_delays_no_ack_and_loses_no_click(
    slack: SlackEmulator, people: People, start_bot, make_redis_server
) -> None:
    server = make_redis_server()
    await start_bot(REDIS_URL=server.url)
    card = await start_task(slack, people)

    server.stall()
    stalled_at = time.monotonic()
    try:
        click = await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
        click_ack = await slack.wait_ack(click, timeout=3)
        command = await slack.slash_command(people.alice, "Another announcement", channel_id=people.general)
        command_ack = await slack.wait_ack(command, timeout=3)
        await asyncio.sleep(max(0.0, STALL_S - (time.monotonic() - stalled_at)))  # the fault's length, not a wait
    finally:
        server.resume()

    assert click_ack["envelope_id"] == click.envelope_id and "Started" in command_ack["payload"]["text"]
    updated = await decided_card(slack, people, card.ts)
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)  # recorded once Redis came back
    report = await report_to(slack, people.alice, "approved")
    assert f"<@{people.bob}>" in report.text
    assert [m for m in slack.ephemerals(people.bob) if "already" in m.text] == []  # the winner is not told it lost


async def test_a_thread_reply_during_a_stall_still_reaches_the_agent(
    slack: SlackEmulator, people: People, start_bot, make_redis_server
) -> None:
    server = make_redis_server()
    await start_bot(REDIS_URL=server.url)
    card = await start_task(slack, people)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_REVISE)
    await slack.wait_for(lambda: len(slack.thread(people.approvals, card.ts)) >= 1, timeout=10)

    server.stall()
    try:
        reply = await slack.user_message(people.bob, people.approvals, "Mention #billing", thread_ts=card.ts)
        envelope = slack.event_envelope(reply.ts)
        assert envelope is not None
        await slack.wait_ack(envelope, timeout=3)
        await asyncio.sleep(STALL_S)  # the fault's length
    finally:
        server.resume()

    revised = await decided_card(slack, people, card.ts)
    assert "Mention #billing" in texts(revised.blocks)


async def test_malformed_clicks_are_acked_and_answered(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)
    base = {
        "type": "block_actions",
        "user": {"id": people.bob},
        "channel": {"id": people.approvals},
        "container": {"channel_id": people.approvals, "message_ts": card.ts},
    }
    malformed = [
        {**base, "actions": [], "trigger_id": "t-empty"},
        {**base, "actions": [{"value": "no action id"}], "trigger_id": "t-noid"},
        {**base, "actions": [None], "trigger_id": "t-none"},
    ]

    envelopes = [await slack.send_interactive(payload) for payload in malformed]
    acks = [await slack.wait_ack(envelope, timeout=3) for envelope in envelopes]
    answers = await slack.wait_for(lambda: slack.ephemerals(people.bob)[2:3] and slack.ephemerals(people.bob), 5)

    assert [ack["envelope_id"] for ack in acks] == [e.envelope_id for e in envelopes]
    assert all("not one this bot knows" in answer.text for answer in answers)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)  # the bot still works
    await report_to(slack, people.alice, "approved")
