"""Runs the real bot as production does (``approval-bot run`` in its own process) against the emulator.

Its model is AutoGen's ``OpenAIChatCompletionClient`` asking the test's ``ModelServer`` (``tests/model_server.py``)
for ``answers(replies)``: every process given the same replies asks the same script, so a restarted bot continues
the same conversation. Without a server (tests that stop before any model call, such as start-up failures) the
config names an endpoint where nothing listens: a model call there fails, it never reaches a real model.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path

from bot.sandbox import SlackEmulator
from tests.conditions import until
from tests.model_server import ModelServer, Reply, answers_name, component_config
from tests.redis_server import free_port


class BotProcess:
    def __init__(
        self,
        slack: SlackEmulator,
        redis_url: str,
        workdir: Path,
        *,
        answers: list[Reply],
        model: ModelServer | None = None,
        args: tuple[str, ...] = (),
        dotenv: dict[str, str] | None = None,
        **env: str,
    ) -> None:
        self.dir = workdir
        self.args = args
        """Given to ``approval-bot run`` (``--http PORT``)."""
        if model is not None:
            self.model_name = model.add_answers(answers)
            base_url = model.base_url
        else:
            self.model_name = answers_name(answers)
            base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
        self.model_config = component_config(base_url, self.model_name)
        config = self.dir / "model.json"
        config.write_text(json.dumps(self.model_config))
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
            MODEL_CONFIG=str(config),
            LOG_LEVEL="INFO",
        )
        self.env.update(env)
        if dotenv:  # settings the bot reads from .env in its working directory, not from its environment
            env_file = self.dir / ".env"
            env_file.write_text("".join(f"{key}={value}\n" for key, value in dotenv.items()))
            env_file.chmod(0o600)
        self.log = self.dir / "bot.log"
        self.process: asyncio.subprocess.Process | None = None
        self.request_url: str | None = None
        """In HTTP mode: where it serves Slack's requests (set once it listens)."""

    async def start(self) -> BotProcess:
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", *self.args, env=self.env, cwd=self.dir, stdout=log, stderr=log
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

    async def kill(self) -> None:
        """kill -9: no shutdown, no lease given back, nothing flushed."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process stops mid-whatever, its sockets stay open (a stalled VM, a long GC pause)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def listening(port: int, timeout: float) -> None:
    """Until something accepts TCP connections on 127.0.0.1:``port`` (the bot's HTTP server, started last)."""

    async def accepts() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    await until(accepts, timeout=timeout, what=f"a server on port {port}")
