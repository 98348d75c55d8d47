"""Sets up the demo: the emulator, Redis (a server or fakeredis), the model, and the real bot."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import fakeredis.aioredis
import redis.asyncio as aioredis

from bot.config import DEFAULT_OPS_DB, DEFAULT_REDIS_URL, Secret, Settings
from bot.demo.terminal import Terminal
from bot.demo.transcript import APPROVALS, AUTO_CHOICES, DEFAULT_TASK, USER_NAME, Demo
from bot.sandbox import SlackEmulator
from bot.service import Service, load_model, open_redis
from bot.slack.scopes import REQUIRED_SCOPES
from workflows.demo_models import demo_config
from workflows.model import DEFAULT_MODEL

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
"""What slack-sdk reads to route its calls, loopback included: the demo's Slack is on 127.0.0.1."""


async def run_demo(settings: Settings, *, task: str | None, auto: str | None) -> int:
    """Run the demo; 0 once the requester is told how the run ended, 1 if the bot fails or takes too long.

    Raises ``StartupError`` (an unreachable ``REDIS_URL``) or ``ModelConfigError``, one line each, like ``run``.
    """
    if auto is not None and auto not in AUTO_CHOICES:
        raise ValueError(f"auto must be one of {', '.join(AUTO_CHOICES)}, got {auto!r}")
    _quiet_logging(settings)
    model = await load_model(settings, fallback=demo_config())
    try:
        redis, redis_note = await _open_redis(settings)
    except BaseException:
        await model.aclose()
        raise
    out = sys.stdout
    try:
        with _without_proxies() as dropped, tempfile.TemporaryDirectory(prefix="approval-bot-demo-") as scratch:
            async with SlackEmulator(scopes=REQUIRED_SCOPES) as slack:
                user = slack.add_user(USER_NAME)
                approvals = slack.add_channel(APPROVALS, members=[user])
                demo_settings = replace(
                    settings,
                    slack_bot_token=Secret(slack.bot_token),
                    slack_app_token=Secret(slack.app_token),
                    http_port=None,  # the demo's emulator speaks Socket Mode, whatever HTTP_PORT says
                    slack_api_url=slack.api_url,
                    approvals_channel=f"#{APPROVALS}",
                    approvers=frozenset({user}),  # you decide; the card names you as its approver
                    ops_db=settings.ops_db if settings.ops_db != DEFAULT_OPS_DB else Path(scratch) / "ops.sqlite3",
                )
                async with Service(demo_settings, redis, model):
                    try:
                        await slack.wait_connections(1)
                    except TimeoutError:
                        print("approval-bot: the bot did not connect to the local Slack emulator", file=sys.stderr)
                        return 1
                    _intro(out, settings, redis_note, dropped)
                    demo = Demo(
                        slack,
                        user,
                        approvals,
                        auto=auto,
                        out=out,
                        terminal=Terminal(sys.stdin),
                    )
                    return await demo.run(task or DEFAULT_TASK)
    finally:
        await redis.aclose()
        await model.aclose()


# --- setup ---


async def _open_redis(settings: Settings) -> tuple[aioredis.Redis, str]:
    """``REDIS_URL`` if it is set (checked now), else fakeredis in this process; and a line saying which."""
    if not _redis_url_set(settings):
        fake = fakeredis.aioredis.FakeRedis(decode_responses=True)
        return fake, "in this process (fakeredis; set REDIS_URL to use a Redis server)"
    redis = await open_redis(settings, advice="start it, or unset REDIS_URL to let the demo run one in its own process")
    return redis, f"{settings.redis_url_redacted} (REDIS_URL)"


def _redis_url_set(settings: Settings) -> bool:
    # Settings always has a URL (a default); only one someone chose (environment or .env) means a server.
    return bool(os.environ.get("REDIS_URL", "").strip()) or settings.redis_url != DEFAULT_REDIS_URL


def _model_note(settings: Settings) -> str:
    if settings.model_config is not None:
        return f"the one in {settings.model_config} (MODEL_CONFIG)"
    if settings.openai_api_key is not None:
        return f"OpenAI {DEFAULT_MODEL} (OPENAI_API_KEY)"
    return "a scripted one, offline (set OPENAI_API_KEY or MODEL_CONFIG to use a real one)"


def _intro(out: TextIO, settings: Settings, redis: str, dropped: list[str]) -> None:
    model = _model_note(settings)
    lines = [
        "approval-bot demo: the real bot in a local Slack emulator; no workspace, tokens or server needed.",
        "",
        f"  Slack   an emulated workspace on this machine; you are @{USER_NAME}",
        "  bot     approval-bot, connected to it over Socket Mode as in production",
        f"  model   {model}",
        f"  Redis   {redis}",
        "",
        "The demo types /agent-task for you in #general. The agent's draft then waits in #approvals until you",
        "decide: Approve, Revise (you tell it what to change) or Cancel. Every Slack message is shown below.",
    ]
    if dropped and (settings.model_config is not None or settings.openai_api_key is not None):
        lines.append(
            f"(Note: {', '.join(dropped)} ignored in this process: slack-sdk would send the local Slack's traffic"
            " there; the model is reached directly.)"
        )
    print("\n".join(lines), file=out, flush=True)


def _quiet_logging(settings: Settings) -> None:
    """Warnings only, so the terminal reads like a chat; LOG_LEVEL=DEBUG shows everything."""
    level = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(level)
    for noisy in ("autogen_core", "autogen_core.events", "autogen_agentchat"):  # the replayed models' token
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == logging.DEBUG else logging.ERROR)  # counts


@contextlib.contextmanager
def _without_proxies() -> Iterator[list[str]]:
    """slack-sdk sends even loopback calls through a proxy from the environment, so the demo drops them."""
    saved = {name: os.environ.pop(name) for name in PROXY_VARIABLES if name in os.environ}
    try:
        yield [name for name, value in saved.items() if value.strip()]
    finally:
        os.environ.update(saved)
