"""SIGTERM: the real bot process stops within 10 s whatever it was doing, and hands its work on.

Each bound is asserted from the process's own exit (the time from the signal to ``wait()`` returning), never
from a sleep. Runs are checked end to end: the replica that takes them over resumes them on the same cards.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.botprocess import BotProcess
from tests.conditions import until
from tests.e2e.conftest import DRAFT_1, People
from tests.e2e.test_approval_flow import report_to, start_task
from tests.e2e.test_durable_runs import logged, workflow_of
from tests.model_server import component_config
from tests.redis_server import RedisServer

RUNS_ON_CARDS = 8
"""Runs waiting on their cards when the signal comes (cards post at Slack's 1 a second per channel)."""
RUNS_ON_THE_MODEL = 50
LONG_LEASE = "30"
"""A lease far longer than any bound here: a run that moves on did so because it was given back, not lapsed."""
WORKFLOW_ID = re.compile(r"wf-[0-9a-f]{12}")


async def terminate(bot: BotProcess) -> tuple[int, float]:
    """SIGTERM; returns the exit status and the seconds from the signal to the process's exit."""
    assert bot.process is not None
    signalled = time.monotonic()
    bot.process.send_signal(signal.SIGTERM)
    return await exited(bot, signalled)


async def exited(bot: BotProcess, since: float) -> tuple[int, float]:
    assert bot.process is not None
    try:
        status = await asyncio.wait_for(bot.process.wait(), 15)
    except TimeoutError:
        bot.process.kill()
        await bot.process.wait()
        raise AssertionError(f"approval-bot was still running 15 s after SIGTERM:\n{bot.output()}") from None
    elapsed = time.monotonic() - since
    print(f"shutdown took {elapsed:.2f} s (exit status {status})")  # the README's figures: pytest -s
    return status, elapsed


def taken_by(bot: BotProcess, workflow_id: str, fence: int) -> bool:
    return f"took run {workflow_id} (fence {fence}" in bot.output()


async def cards_posted(slack: SlackEmulator, people: People, count: int, timeout: float = 60):
    return await slack.wait_for(
        lambda: (found := [m for m in slack.messages(people.approvals) if m.blocks]) and len(found) >= count and found,
        timeout=timeout,
    )


def approvals_reported(slack: SlackEmulator, people: People) -> list[str]:
    return [m.text for m in slack.ephemerals(people.alice) if "Your" in m.text and "approved" in m.text]


async def test_sigterm_hands_every_run_waiting_on_a_card_to_the_other_replica(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bots = [await start_bot(RUN_LEASE=LONG_LEASE), await start_bot(RUN_LEASE=LONG_LEASE)]
    for n in range(RUNS_ON_CARDS):
        await slack.wait_ack(await slack.slash_command(people.alice, f"Release {n}", channel_id=people.general), 3)
    cards = await cards_posted(slack, people, RUNS_ON_CARDS)
    runs = [workflow_of(card.blocks) for card in cards]
    await until(lambda: all(any(taken_by(bot, run, 1) for bot in bots) for run in runs), 10)
    leaving = max(bots, key=lambda bot: sum(taken_by(bot, run, 1) for run in runs))
    staying = next(bot for bot in bots if bot is not leaving)
    handed = [run for run in runs if taken_by(leaving, run, 1)]

    status, elapsed = await terminate(leaving)

    assert status == 0, leaving.output()
    assert elapsed < 5, leaving.output()
    for run in handed:  # at once: the lease (30 s) is nowhere near lapsing
        await logged(staying, f"took run {run} (fence 2, resuming", 10)
    assert f"gave {len(handed)} run(s) back" in leaving.output()
    for card in cards:
        await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await until(lambda: len(approvals_reported(slack, people)) >= RUNS_ON_CARDS, 30)
    assert len(set(approvals_reported(slack, people))) == RUNS_ON_CARDS  # every run, once
    assert len([m for m in slack.messages(people.approvals) if m.blocks]) == RUNS_ON_CARDS  # on the same cards


@pytest.mark.parametrize("fault", ["stalled", "gone"])
async def test_sigterm_exits_within_10_s_while_redis_is(
    fault: str, slack: SlackEmulator, people: People, start_bot, make_redis_server
) -> None:
    server: RedisServer = make_redis_server()
    bot = await start_bot(REDIS_URL=server.url, RUN_LEASE="2")
    card = await start_task(slack, people)
    run = workflow_of(card.blocks)
    await logged(bot, f"took run {run} (fence 1")

    server.stall() if fault == "stalled" else server.kill()
    try:
        status, elapsed = await terminate(bot)
    finally:
        server.resume() if fault == "stalled" else server.start()

    assert elapsed < 10, bot.output()
    assert status == 1, bot.output()  # not a clean hand-over, and it says what it left
    assert "1 run(s) not given back" in bot.output(), bot.output()
    new = await start_bot(REDIS_URL=server.url, RUN_LEASE="2", connections=1)
    await logged(new, f"took run {run} (fence 2, resuming", 15)  # its lease lapsed: nothing was lost
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    assert DRAFT_1.splitlines()[0] in (await report_to(slack, people.alice, "approved")).text


async def test_sigterm_exits_at_once_when_slack_is_gone(slack: SlackEmulator, people: People, start_bot) -> None:
    bot = await start_bot(RUN_LEASE=LONG_LEASE)
    card = await start_task(slack, people)
    await slack.aclose()  # Slack is gone: its connections drop and nothing answers on its address

    status, elapsed = await terminate(bot)

    assert status == 0, bot.output()  # the run was still given back: Redis is there
    assert elapsed < 5, bot.output()
    assert "gave 1 run(s) back" in bot.output() and workflow_of(card.blocks) in bot.output()


async def test_envelopes_delivered_just_before_sigterm_are_acked_and_acted_on(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    leaving = await start_bot(RUN_LEASE=LONG_LEASE)
    card = await start_task(slack, people)
    commands = [await slack.slash_command(people.alice, f"Hotfix {n}", channel_id=people.general) for n in range(10)]
    click = await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    assert leaving.process is not None
    leaving.process.send_signal(signal.SIGTERM)  # the last envelope has just gone out on the socket

    acks = [await slack.wait_ack(envelope, timeout=3) for envelope in [*commands, click]]
    status, _ = await exited(leaving, time.monotonic())

    assert status == 0, leaving.output()
    assert slack.failures == []
    started = [WORKFLOW_ID.findall(ack["payload"]["text"])[0] for ack in acks[:-1]]
    new = await start_bot(RUN_LEASE=LONG_LEASE, connections=1)
    await until(lambda: all(f"took run {run}" in new.output() for run in started), 15)  # "Started" was true
    assert DRAFT_1.splitlines()[0] in (await report_to(slack, people.alice, "approved")).text  # the click counted


class HangingModel:
    """An OpenAI endpoint that takes every request and never answers: a model call that hangs."""

    def __init__(self) -> None:
        self.waiting = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> HangingModel:
        self._server = await asyncio.start_server(self._hang, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    def config(self, path: Path) -> str:
        port = self._server.sockets[0].getsockname()[1] if self._server is not None else 0
        path.write_text(json.dumps(component_config(f"http://127.0.0.1:{port}/v1", "hanging")))
        return str(path)

    async def _hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.waiting += 1
            await reader.read()  # until the client goes away; nothing is ever answered
            self.waiting -= 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def hanging_model() -> AsyncIterator[HangingModel]:
    async with HangingModel() as model:
        yield model


async def test_sigterm_with_fifty_runs_in_a_hanging_model_call(
    slack: SlackEmulator, people: People, start_bot, hanging_model: HangingModel, tmp_path: Path
) -> None:
    config = hanging_model.config(tmp_path / "hanging.json")
    leaving = await start_bot(MODEL_CONFIG=config, RUN_LEASE=LONG_LEASE)
    commands = [
        await slack.slash_command(people.alice, f"Job {n}", channel_id=people.general) for n in range(RUNS_ON_THE_MODEL)
    ]
    acks = [await slack.wait_ack(command, timeout=3) for command in commands]
    runs = [WORKFLOW_ID.findall(ack["payload"]["text"])[0] for ack in acks]
    await until(lambda: hanging_model.waiting >= RUNS_ON_THE_MODEL, 30)
    staying = await start_bot(MODEL_CONFIG=config, RUN_LEASE=LONG_LEASE)

    status, elapsed = await terminate(leaving)

    assert status == 0, leaving.output()
    assert elapsed < 5, leaving.output()
    await until(lambda: all(taken_by(staying, run, 2) for run in runs), 15)
    await staying.stop()  # before the model goes away under its runs


async def test_a_second_sigterm_during_shutdown_exits_at_once(
    slack: SlackEmulator, people: People, start_bot, make_redis_server
) -> None:
    server: RedisServer = make_redis_server()
    bot = await start_bot(REDIS_URL=server.url)
    await start_task(slack, people)
    assert bot.process is not None

    server.stall()  # giving the run back now waits on Redis: the shutdown takes seconds
    try:
        bot.process.send_signal(signal.SIGTERM)
        await logged(bot, "shutting down", 5)
        second = time.monotonic()
        bot.process.send_signal(signal.SIGTERM)
        status, elapsed = await exited(bot, second)
    finally:
        server.resume()

    assert status == 128 + signal.SIGTERM, bot.output()
    assert elapsed < 1, bot.output()
    assert "second signal" in bot.output()
