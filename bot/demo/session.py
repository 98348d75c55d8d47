"""Sets up the demo: the emulator, Redis (a server or fakeredis), the model, and the real bot."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import fakeredis.aioredis
import redis.asyncio as aioredis

from bot.approvals.policy import DEFAULT_POLICY_YAML
from bot.config import DEFAULT_OPS_DB, DEFAULT_REDIS_URL, Secret, Settings
from bot.connections import load_model, open_redis
from bot.demo.page import PAGE_HINTS, PAGE_PEOPLE, serve_page
from bot.demo.terminal import Terminal
from bot.demo.transcript import APPROVALS, AUTO_CHOICES, DEFAULT_TASK, USER_NAME, Demo
from bot.sandbox import SlackEmulator
from bot.service import Service
from bot.slack.scopes import REQUIRED_SCOPES
from workflows.demo_models import demo_config
from workflows.model import DEFAULT_MODEL

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
"""What slack-sdk reads to route its calls, loopback included: the demo's Slack is on 127.0.0.1."""


@dataclass(frozen=True)
class Sandbox:
    """The demo's running parts: the emulated Slack (with the bot connected), its people and the intro facts."""

    slack: SlackEmulator
    people: dict[str, str]  # name -> user id; the first one types the tasks
    approvals: str
    redis_note: str
    dropped: list[str]


async def run_demo(
    settings: Settings,
    *,
    task: str | None,
    auto: str | None,
    terminal: bool = True,
    browser: bool = True,
    port: int = 0,
) -> int:
    """Run the demo: in the terminal (``terminal``, or ``auto`` set), else as the sandbox page in a browser.

    Terminal: 0 once the requester is told how the run ended, 1 if the bot fails or takes too long. Page: serves
    until Ctrl-C (or SIGTERM), then 0. Raises ``StartupError`` (an unreachable ``REDIS_URL``) or
    ``ModelConfigError``, one line each, like ``run``.
    """
    if auto is not None and auto not in AUTO_CHOICES:
        raise ValueError(f"auto must be one of {', '.join(AUTO_CHOICES)}, got {auto!r}")
    if auto is not None or terminal:
        async with _sandbox(settings, people=(USER_NAME,), page=False, port=port) as box:
            if box is None:
                return 1
            _intro(sys.stdout, settings, box)
            terminal_io = Terminal(sys.stdin)
            demo = Demo(
                box.slack, box.people[USER_NAME], box.approvals, auto=auto, out=sys.stdout, terminal=terminal_io
            )
            return await demo.run(task or DEFAULT_TASK)
    async with _sandbox(settings, people=PAGE_PEOPLE, page=True, port=port) as box:
        if box is None:
            return 1
        requester = box.people[PAGE_PEOPLE[0]]
        intro = _page_intro(settings, box)
        return await serve_page(box.slack, requester=requester, intro=intro, task=task, browser=browser)


@contextlib.asynccontextmanager
async def _sandbox(
    settings: Settings, *, people: Sequence[str], page: bool, port: int
) -> AsyncIterator[Sandbox | None]:
    """The emulator, Redis, the model and the real bot connected over Socket Mode; None if it did not connect."""
    _quiet_logging(settings)
    model = await load_model(settings, fallback=demo_config())
    try:
        redis, redis_note = await _open_redis(settings)
    except BaseException:
        await model.aclose()
        raise
    try:
        with _without_proxies() as dropped, tempfile.TemporaryDirectory(prefix="approval-bot-demo-") as scratch:
            async with SlackEmulator(scopes=REQUIRED_SCOPES, page=page, page_hints=PAGE_HINTS, port=port) as slack:
                ids = {name: slack.add_user(name) for name in people}
                approvals = slack.add_channel(APPROVALS, members=list(ids.values()))
                demo_settings = replace(
                    settings,
                    slack_bot_token=Secret(slack.bot_token),
                    slack_app_token=Secret(slack.app_token),
                    http_port=None,  # the demo's emulator speaks Socket Mode, whatever HTTP_PORT says
                    slack_api_url=slack.api_url,
                    approvals_channel=f"#{APPROVALS}",
                    approvers=frozenset(ids.values()),  # you decide; the card names you as its approver
                    ops_db=settings.ops_db if settings.ops_db != DEFAULT_OPS_DB else Path(scratch) / "ops.sqlite3",
                    policy_file=settings.policy_file or _demo_policy(Path(scratch), quorum=page),
                )
                async with Service(demo_settings, redis, model):
                    try:
                        await slack.wait_connections(1)
                    except TimeoutError:
                        print("approval-bot: the bot did not connect to the local Slack emulator", file=sys.stderr)
                        yield None
                        return
                    yield Sandbox(slack, ids, approvals, redis_note, dropped)
    finally:
        await redis.aclose()
        await model.aclose()


# --- setup ---


QUORUM_RULE = """
  - name: emails-need-two
    tool: send_email
    action: ask_two
    risk: medium
"""
"""In the browser, ``ops``'s email waits for two of alice, bob and carol: the user switcher shows a quorum."""


def _demo_policy(scratch: Path, *, quorum: bool) -> Path | None:
    """The built-in policy, plus (in the browser) the quorum rule; None (the built-in one) in the terminal."""
    if not quorum:
        return None
    path = scratch / "policy.yml"
    path.write_text(DEFAULT_POLICY_YAML.rstrip() + "\n" + QUORUM_RULE)
    return path


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


def _intro(out: TextIO, settings: Settings, box: Sandbox) -> None:
    lines = [
        "approval-bot demo: the real bot in a local Slack emulator; no workspace, tokens or server needed.",
        "",
        f"  Slack   an emulated workspace on this machine; you are @{USER_NAME}",
        *_parts(settings, box),
        "",
        "The demo types /agent-task for you in #general. The agent's draft then waits in #approvals until you",
        "decide: Approve, Revise (you tell it what to change) or Cancel. Every Slack message is shown below.",
        *_proxy_note(settings, box),
    ]
    print("\n".join(lines), file=out, flush=True)


def _page_intro(settings: Settings, box: Sandbox) -> str:
    names = ", ".join(f"@{name}" for name in box.people)
    lines = [
        "approval-bot demo: the real bot in a local Slack emulator; no workspace, tokens or server needed.",
        "",
        f"  Slack   an emulated workspace on this machine, in your browser: {names} (switch at the top left)",
        *_parts(settings, box),
        *_proxy_note(settings, box),
    ]
    return "\n".join(lines)


def _parts(settings: Settings, box: Sandbox) -> list[str]:
    return [
        "  bot     approval-bot, connected to it over Socket Mode as in production",
        f"  model   {_model_note(settings)}",
        f"  Redis   {box.redis_note}",
    ]


def _proxy_note(settings: Settings, box: Sandbox) -> list[str]:
    if box.dropped and (settings.model_config is not None or settings.openai_api_key is not None):
        return [
            f"(Note: {', '.join(box.dropped)} ignored in this process: slack-sdk would send the local Slack's traffic"
            " there; the model is reached directly.)"
        ]
    return []


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
