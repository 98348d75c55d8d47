from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from bot.sandbox import SlackEmulator
from tests.botprocess import BotProcess, listening
from tests.conftest import SIGNING_SECRET
from tests.model_server import ModelServer, Reply
from tests.redis_server import free_port

DRAFT_1 = "Subject: Q3 launch\n\nWe launch the new billing page on Monday."
DRAFT_2 = "Subject: Q3 launch\n\nBilling page: live Monday. Questions to #billing."


@dataclass
class People:
    alice: str  # requester and approver
    bob: str  # approver
    mallory: str  # not an approver
    approvals: str
    general: str


@pytest.fixture
def people(slack: SlackEmulator) -> People:
    alice, bob, mallory = slack.add_user("alice"), slack.add_user("bob"), slack.add_user("mallory")
    approvals = slack.add_channel("approvals", members=[alice, bob, mallory])
    return People(alice, bob, mallory, approvals, slack.general)


@pytest.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    """The test's scripted model behind the OpenAI API; it outlives every bot the test starts, and restarts."""
    async with ModelServer() as server:
        yield server


@pytest.fixture
async def start_bot(
    slack: SlackEmulator,
    people: People,
    redis_url: str,
    model_server: ModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Callable[..., Awaitable[BotProcess]]]:
    """Starts ``approval-bot run``; its model answers ``answers[k]`` at the k-th assistant turn of a conversation."""
    bots: list[BotProcess] = []

    async def start(answers: list[Reply] | None = None, connections: int | None = None, **env: str) -> BotProcess:
        env.setdefault("APPROVERS", f"{people.alice},{people.bob}")
        workdir = tmp_path_factory.mktemp("bot")
        replies = answers or [DRAFT_1, DRAFT_2, DRAFT_2]
        args: tuple[str, ...] = ()
        dotenv = None
        if slack.http_mode:  # HTTP mode: no app token, a port of its own, its URL behind the emulator's "balancer"
            port = free_port()
            args = ("--http", str(port))
            dotenv = {"SLACK_SIGNING_SECRET": SIGNING_SECRET}  # from .env, as a deployment may keep it
            env = {"SLACK_APP_TOKEN": "", "HTTP_HOST": "127.0.0.1"} | env
        bot = await BotProcess(
            slack, redis_url, workdir, answers=replies, model=model_server, args=args, dotenv=dotenv, **env
        ).start()
        bots.append(bot)
        if slack.http_mode:
            await bot.until_connected(listening(port, timeout=30))
            bot.request_url = f"http://127.0.0.1:{port}/slack/events"
            slack.add_request_url(bot.request_url)
        else:
            await bot.until_connected(slack.wait_connections(connections or len(bots), timeout=30))
        return bot

    yield start
    for bot in bots:
        await bot.stop()
