"""What the end-to-end benchmarks share: the real bot in its own processes, the strict Slack emulator, a real
``redis-server`` and the scripted model, put together as the end-to-end tests do (``tests/e2e/conftest.py``), and
what people do and see in the workspace.

``Rig`` owns every lifetime: ``async with Rig(workdir) as rig`` starts ``redis-server`` (``tests/redis_server.py``),
the emulator with the manifest's scopes and the scripted model behind the OpenAI API (``tests/model_server.py``);
``await rig.start_bot()`` starts one more ``approval-bot run`` replica (``tests/botprocess.py``) on the same Redis.
Leaving the block stops every replica, then the emulator, the model and Redis.

What the bots do is seen through the emulator's activity feed (``SlackEmulator.on_activity``) as it happens: the
first card with buttons of each run (``rig.cards``) and the requester's report of each run (``rig.reports``), each
with the ``time.perf_counter()`` of the moment the emulator applied it. Waiting on them is waiting on a future,
never a scan of the workspace per change, so a benchmark with many runs in flight does not load the emulator's
event loop (which is this process's) with its own bookkeeping.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from bot.sandbox import SlackEmulator
from bot.sandbox.entities import Message
from bot.sandbox.records import Activity, Envelope
from bot.slack import blocks
from bot.slack.scopes import REQUIRED_SCOPES
from tests.botprocess import BotProcess
from tests.model_server import ModelServer, Reply
from tests.redis_server import RedisServer

DRAFT = "Subject: Q3 launch\n\nWe launch the new billing page on Monday."
RUN_ID = re.compile(r"wf-[0-9a-f]{12}")
"""A run's (workflow's) id, as the bot's answers and cards show it."""
CONNECT_TIMEOUT_S = 30.0

T = TypeVar("T")


def action_ids(message_blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in message_blocks if b["type"] == "actions" for e in b["elements"]]


def run_of(message: Message) -> str | None:
    """The run a card belongs to (its metadata names its approval, ``<run id>.<step>``)."""
    approval = ((message.metadata or {}).get("event_payload") or {}).get("approval_id")
    return str(approval).split(".")[0] if approval else None


def run_of_buttons(message_blocks: list[dict[str, Any]]) -> str | None:
    """The run of a card with buttons, from the approval id its buttons carry."""
    for block in message_blocks:
        for element in block.get("elements", ()) if block.get("type") == "actions" else ():
            found = RUN_ID.search(str(element.get("value") or ""))
            if found:
                return found.group(0)
    return None


def machine() -> str:
    return f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"


def no_proxies() -> None:
    """The emulator and the model live on 127.0.0.1; slack-sdk applies proxy variables to loopback too."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(var, None)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sightings(Generic[T]):
    """The first sighting of each key (a value and when it was seen), and waiting for one."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[T, float]] = {}
        self._waiters: dict[str, asyncio.Future[tuple[T, float]]] = {}

    def saw(self, key: str, value: T) -> None:
        if key in self.seen:
            return
        self.seen[key] = sighting = (value, time.perf_counter())
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(sighting)

    async def wait(self, key: str, timeout: float) -> tuple[T, float]:
        """``(value, perf_counter at the sighting)``, at once if it was seen already."""
        if key in self.seen:
            return self.seen[key]
        waiter = self._waiters.setdefault(key, asyncio.get_running_loop().create_future())
        async with asyncio.timeout(timeout):
            return await asyncio.shield(waiter)


class Rig:
    def __init__(
        self,
        workdir: Path,
        *,
        rate_limits: bool = True,
        answers: list[Reply] | None = None,
        keep: bool = False,
        **env: str,
    ) -> None:
        self.workdir = workdir
        self.keep = keep
        self.answers: list[Reply] = answers or [DRAFT]
        self.env = env
        self.redis = RedisServer()
        self.slack = SlackEmulator(scopes=REQUIRED_SCOPES, rate_limits=rate_limits)
        self.model = ModelServer()
        self.bots: list[BotProcess] = []
        """The replicas that are running, oldest first."""
        self.cards: Sightings[str] = Sightings()
        """Run id -> ts of its first card with buttons in #approvals."""
        self.reports: Sightings[str] = Sightings()
        """Run id -> the text of the requester's report saying how it ended."""
        self.alice = self.bob = self.approvals = ""
        self.requesters: set[str] = set()
        """Who may type ``/agent-task`` here (alice and those ``add_requester`` adds); their reports are watched."""
        self._started = 0

    async def __aenter__(self) -> Self:
        self.redis.start()
        try:
            await self.slack.start()
            await self.model.start()
        except BaseException:
            await self.aclose()
            raise
        self.alice, self.bob = self.slack.add_user("alice"), self.slack.add_user("bob")
        self.approvals = self.slack.add_channel("approvals", members=[self.alice, self.bob])
        self.requesters.add(self.alice)
        self.slack.on_activity(self._on_activity)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            for bot in self.bots:
                await bot.stop()
            self.bots.clear()
            await self.model.aclose()
            await self.slack.aclose()
        finally:
            self.redis.close()
            if not self.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- replicas ------------------------------------------------------------------------------------

    async def start_bot(self, **env: str) -> BotProcess:
        """One more replica on the same Redis, connected to the emulator when this returns."""
        self._started += 1
        workdir = self.workdir / f"bot-{self._started}"
        workdir.mkdir(parents=True)
        settings = {"APPROVERS": f"{self.alice},{self.bob}", **self.env, **env}
        bot = BotProcess(self.slack, self.redis.url, workdir, answers=self.answers, model=self.model, **settings)
        await bot.start()
        self.bots.append(bot)
        await bot.until_connected(self.slack.wait_connections(len(self.bots), timeout=CONNECT_TIMEOUT_S))
        return bot

    async def stop_bot(self, bot: BotProcess) -> None:
        """SIGTERM (a graceful shutdown) of one replica; returns once its Socket Mode connection is closed."""
        await bot.stop()
        self.bots.remove(bot)
        await self.slack.wait_for(lambda: len(self.slack.connections) <= len(self.bots) or None, CONNECT_TIMEOUT_S)

    async def kill(self, bot: BotProcess) -> None:
        """kill -9 of one replica; returns once the emulator has seen its Socket Mode connection close."""
        await bot.kill()
        self.bots.remove(bot)
        await self.slack.wait_for(lambda: len(self.slack.connections) <= len(self.bots) or None, CONNECT_TIMEOUT_S)

    # -- what people do --------------------------------------------------------------------------------

    def add_requester(self, name: str) -> str:
        """One more person in #general who types commands (not an approver)."""
        user = self.slack.add_user(name)
        self.requesters.add(user)
        return user

    async def command(self, task: str, user: str | None = None) -> Envelope:
        """``user`` (alice by default) types ``/agent-task task`` in #general."""
        return await self.slack.slash_command(user or self.alice, task, channel_id=self.slack.general)

    async def run_id(self, command: Envelope, timeout: float = 5.0) -> str:
        """The run a command started, from its ack ("Started *draft* (`wf-…`)")."""
        ack = await self.slack.wait_ack(command, timeout=timeout)
        found = RUN_ID.search(str(ack.get("payload", {}).get("text")))
        if found is None:
            raise RuntimeError(f"the command was not answered 'Started': {ack}")
        return found.group(0)

    async def approve(self, ts: str) -> Envelope:
        return await self.slack.click(self.bob, self.approvals, ts, blocks.ACTION_APPROVE)

    # -- what people see -------------------------------------------------------------------------------

    def _on_activity(self, activity: Activity) -> None:
        if activity.kind == "message" and activity.channel == self.approvals and action_ids(activity.blocks):
            run = run_of_buttons(activity.blocks)
            if run is not None:
                self.cards.saw(run, activity.ts)
        elif activity.kind == "ephemeral" and activity.to_user in self.requesters and "Your" in activity.text:
            found = RUN_ID.search(activity.text)
            if found is not None:
                self.reports.saw(found.group(0), activity.text)
