"""Runs the real bot as production does (``approval-bot run`` in its own process) against the emulator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path

from bot.sandbox import SlackEmulator
from workflows.model import replay_config


class BotProcess:
    def __init__(self, slack: SlackEmulator, redis_url: str, workdir: Path, *, answers: list[str], **env: str) -> None:
        self.dir = workdir
        model = self.dir / "model.json"
        model.write_text(json.dumps(replay_config(answers)))
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLACK_", "OPENAI_", "APPROV", "REDIS_", "MODEL_")) and "PROXY" not in key.upper()
        }
        self.env.update(
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_API_URL=slack.api_url,
            REDIS_URL=redis_url,
            APPROVALS_CHANNEL="#approvals",
            MODEL_CONFIG=str(model),
            LOG_LEVEL="INFO",
        )
        self.env.update(env)
        self.log = self.dir / "bot.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> BotProcess:
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", env=self.env, cwd=self.dir, stdout=log, stderr=log
            )
        return self

    async def until_connected(self, connected: Awaitable[object]) -> None:
        """Await ``connected``, failing at once with the bot's output if the process exits first."""
        assert self.process is not None
        waiting = asyncio.ensure_future(connected)
        exited = asyncio.ensure_future(self.process.wait())
        await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            raise AssertionError(f"approval-bot exited with {self.process.returncode}:\n{self.output()}")
        exited.cancel()
        waiting.result()

    async def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0

    def output(self) -> str:
        return self.log.read_text(errors="replace")
