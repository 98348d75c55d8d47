"""``approval-bot run | demo``: the one place that turns the environment into a running bot.

Bad configuration ends with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_dotenv_file, load_settings
from bot.service import Service, load_model, open_redis
from bot.slack.startup import StartupError
from workflows.model import ModelConfigError

log = logging.getLogger("approval-bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="approval-bot", description="The Slack approval gate for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="connect to a real Slack workspace (configured by environment variables)")
    demo = commands.add_parser("demo", help="try it offline: a local Slack emulator, a scripted model, no Redis")
    demo.add_argument("--task", default=None, help="the task to give the agent")
    demo.add_argument("--auto", choices=["approve", "revise", "cancel"], help="decide without asking (smoke tests)")
    args = parser.parse_args(argv)

    try:
        if args.command == "run":
            settings = load_settings(load_dotenv_file())
            _configure_logging(settings)
            return asyncio.run(run(settings))
        from bot.demo import run_demo

        settings = load_settings(load_dotenv_file(), require_slack=False)
        return asyncio.run(run_demo(settings, task=args.task, auto=args.auto))
    except (ConfigError, StartupError, ModelConfigError) as exc:
        print(f"approval-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def run(settings: Settings) -> int:
    model = await load_model(settings)
    redis = await open_redis(settings)
    try:
        async with Service(settings, redis, model):
            await _until_signalled()
            log.info("shutting down")
    finally:
        await redis.aclose()
    return 0


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level_number, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if settings.log_level_number > logging.DEBUG:  # AutoGen logs every message between agents at INFO
        for noisy in ("autogen_core", "autogen_core.events", "autogen_agentchat"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
