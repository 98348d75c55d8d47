"""``approval-bot run | demo | audit | doctor | mcp``: the one place that turns the environment into a running bot.

Bad configuration ends with one line on stderr and exit status 2, never a traceback. ``audit --verify`` exits 0
when the audit is intact, 1 when it is not, 3 when the Redis keeps no chain (``bot.audit_verify``). ``doctor``
exits 0 when every check passes, 1 when one fails (``bot.doctor``).

SIGTERM or Ctrl-C shuts the bot down gracefully (``Service.shutdown``) and exits within 10 s in every case: 0 when
everything was handed over, 1 when something was left (the last log line says what). A second signal during the
shutdown exits at once (128 + the signal's number), and so does a last-resort timer, should the event loop itself
be stuck.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import redis.asyncio as aioredis

from bot.approvals.audit import audit_pages, read_audit
from bot.approvals.chain import SealKey
from bot.approvals.policy import PolicyError
from bot.audit_export import FORMATS, SinceError, parse_since, render
from bot.audit_verify import render as render_verdict
from bot.audit_verify import verify_audit
from bot.config import ConfigError, Settings, load_dotenv_file, load_settings
from bot.connections import load_model, open_redis
from bot.doctor import TOKENS, diagnose
from bot.logs import formatter
from bot.policy_report import FORMATS as REPORT_FORMATS
from bot.policy_report import Tally
from bot.policy_report import render as render_report
from bot.service import Service
from bot.slack.startup import StartupError
from workflows.executor import make_undumpable
from workflows.model import ModelConfigError, RoleModels

try:  # uvloop where its wheel exists: the same throughput, about 13% less CPU per decision (benchmarks/)
    from uvloop import run as run_loop
except ImportError:  # pragma: no cover - platforms without a uvloop wheel
    run_loop = asyncio.run  # type: ignore[assignment]

log = logging.getLogger("approval-bot")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
REDIS_CLOSE_S = 0.5
MODELS_CLOSE_S = 0.3
LEFTOVERS_S = 0.3
EXIT_S = 9.0
"""From the first signal to the process's end, whatever happens: Kubernetes and compose send SIGKILL at 10 s."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="approval-bot", description="The Slack approval gate for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="connect to a real Slack workspace (configured by the environment)")
    run_parser.add_argument(
        "--http",
        type=int,
        metavar="PORT",
        help="HTTP mode: serve Slack's requests at /slack/events on PORT (as HTTP_PORT; needs SLACK_SIGNING_SECRET)",
    )
    demo = commands.add_parser("demo", help="try it offline: a local Slack emulator, a scripted model, no Redis")
    demo.add_argument("--task", default=None, help="the task to give the agent")
    demo.add_argument("--auto", choices=["approve", "revise", "cancel"], help="decide without asking (smoke tests)")
    demo.add_argument("--terminal", action="store_true", help="the transcript in this terminal instead of a browser")
    demo.add_argument("--no-browser", action="store_true", help="print the sandbox page's address, open nothing")
    demo.add_argument("--port", type=int, default=0, help="the sandbox page's port (default: a free one)")
    audit = commands.add_parser("audit", help="print, export or verify the audit trail (reads REDIS_URL)")
    audit.add_argument("--format", choices=FORMATS, default="text", help="text (default), jsonl, json or csv")
    audit.add_argument(
        "--since",
        help="an ISO 8601 date or time, or a duration back: 24h, 7d (listing: default 7d; otherwise all kept)",
    )
    audit.add_argument("--limit", type=int, default=10_000, help="at most this many entries, oldest first")
    checks = audit.add_mutually_exclusive_group()
    checks.add_argument(
        "--verify",
        action="store_true",
        help="check the hash chains (and seals, with AUDIT_HMAC_KEY): exit 0 intact, 1 not, 3 no chain kept",
    )
    checks.add_argument(
        "--policy-report",
        action="store_true",
        help="per policy rule: requests matched, decisions, agreement with shadow rules (--format text or json)",
    )
    doctor = commands.add_parser("doctor", help="check the tokens, channel, Redis, model and policy; one line each")
    doctor.add_argument("--model-call", action="store_true", help="also make one cheap (1-token) model call")
    mcp = commands.add_parser("mcp", help="serve the approval gate to MCP clients: stdio, or Streamable HTTP")
    mcp.add_argument(
        "--http", metavar="HOST:PORT", type=_address, help="serve Streamable HTTP at http://HOST:PORT/mcp, not stdio"
    )
    mcp.add_argument(
        "--progress-every",
        metavar="SECONDS",
        type=_progress_every,
        default=30.0,
        help="while a call waits for a decision, a progress notification this often (default 30, at most 60)",
    )
    mcp.add_argument(
        "--block-for",
        metavar="SECONDS",
        type=_positive_seconds,
        help="a call with a progressToken waits at most this long, then answers pending (default: until decided)",
    )
    mcp.add_argument(
        "--requester",
        type=_requester,
        help="who asks, shown on the cards: a Slack user ID or a name (default: mcp:<the client's name>)",
    )
    args = parser.parse_args(argv)
    if args.command == "audit" and args.policy_report and args.format not in REPORT_FORMATS:
        parser.error(f"--policy-report shows --format {' or '.join(REPORT_FORMATS)}, not {args.format}")

    try:
        if args.command == "audit":
            settings = load_settings(load_dotenv_file(), require_slack=False)
            if args.verify:
                return run_loop(verify(settings, since=args.since))
            if args.policy_report:
                return run_loop(report_policy(settings, form=args.format, since=args.since))
            return run_loop(export_audit(settings, form=args.format, since=args.since or "7d", limit=args.limit))
        if args.command == "doctor":
            environ = load_dotenv_file()
            settings = load_settings({k: v for k, v in environ.items() if k not in TOKENS}, require_slack=False)
            return run_loop(check_setup(settings, environ, model_call=args.model_call))
        if args.command == "mcp":
            from bot.mcp import serve

            settings = load_settings(load_dotenv_file(), require_slack=False)
            _configure_logging(settings)
            serving = serve(
                settings,
                http=args.http,
                progress_every=args.progress_every,
                block_for=args.block_for,
                requester=args.requester,
            )
            return run_loop(serving)
        if args.command == "run":
            environ = load_dotenv_file()
            if args.http is not None:
                environ["HTTP_PORT"] = str(args.http)
            settings = load_settings(environ)
            _configure_logging(settings)
            return run_loop(run(settings))
        from bot.demo import run_demo

        settings = load_settings(load_dotenv_file(), require_slack=False)
        demo_run = run_demo(
            settings,
            task=args.task,
            auto=args.auto,
            terminal=args.terminal,
            browser=not args.no_browser,
            port=args.port,
        )
        return run_loop(demo_run)
    except (ConfigError, StartupError, ModelConfigError, SinceError, PolicyError) as exc:
        print(f"approval-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def run(settings: Settings) -> int:
    make_undumpable()  # before any secret is read into memory that code could reach: see workflows.executor
    model = await load_model(settings)
    try:
        redis = await open_redis(settings)
    except BaseException:
        await model.aclose()
        raise
    try:
        async with Service(settings, redis, model) as service:
            signum = await _until_signalled()
            began = time.monotonic()
            _exit_on_second_signal()
            _LastResort(service, EXIT_S).start()
            log.info("shutting down (%s)", signal.Signals(signum).name)
            left = await service.shutdown()
    finally:
        redis_left = await _close_redis(redis)
        left_models = await _close_models(model)
    left += redis_left + left_models
    await _cancel_leftovers(LEFTOVERS_S)
    elapsed = time.monotonic() - began
    if left:
        log.warning("shut down in %.1f s, leaving: %s", elapsed, "; ".join(left))
        return 1
    log.info("shut down in %.1f s; everything handed over", elapsed)
    return 0


async def check_setup(settings: Settings, environ: dict[str, str], *, model_call: bool) -> int:
    """``doctor``: the tokens are checked from ``environ`` (a wrong kind is a failed check, not exit 2)."""
    checks = await diagnose(settings, environ, model_call=model_call)
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1


async def export_audit(settings: Settings, *, form: str, since: str, limit: int) -> int:
    since_ms = parse_since(since)
    redis = await open_redis(settings)
    try:
        entries = await read_audit(redis, since_ms=since_ms, count=max(1, limit))
    finally:
        await redis.aclose()
    sys.stdout.write(render(entries, form))
    return 0


async def verify(settings: Settings, *, since: str | None) -> int:
    """``audit --verify``: the chains from their start; ``since`` only limits which entries must have been sealed
    from the start of the bucket's sealing."""
    since_ms = parse_since(since) if since else 0
    key = SealKey(settings.audit_hmac_key.get().encode()) if settings.audit_hmac_key else None
    redis = await open_redis(settings)
    try:
        verdict = await verify_audit(redis, key, since_ms=since_ms)
    finally:
        await redis.aclose()
    sys.stdout.write(render_verdict(verdict))
    return verdict.exit_code


async def report_policy(settings: Settings, *, form: str, since: str | None) -> int:
    """``audit --policy-report``: the whole audit kept (or from ``since``), read a page at a time."""
    since_ms = parse_since(since) if since else 0
    tally = Tally()
    redis = await open_redis(settings)
    try:
        async for page in audit_pages(redis, since_ms=since_ms):
            tally.add(page)
    finally:
        await redis.aclose()
    sys.stdout.write(render_report(tally.reports(), form))
    return 0


async def _until_signalled() -> int:
    """The first SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[int] = loop.create_future()

    def signalled(signum: int) -> None:
        if not got.done():
            got.set_result(signum)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, signalled, sig)
    try:
        return await got
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


def _exit_on_second_signal() -> None:
    """From now on a signal ends the process at once, even while the event loop is busy."""

    def now(signum: int, frame: FrameType | None) -> None:
        os.write(
            2, f"approval-bot: second signal ({signal.Signals(signum).name}) during shutdown; exiting now\n".encode()
        )
        os._exit(128 + signum)

    for sig in SIGNALS:
        signal.signal(sig, now)


class _LastResort(threading.Thread):
    """Ends the process ``seconds`` after it is started, whatever the event loop is doing (a blocked loop, a task
    that swallows its cancellation, an executor thread stuck in a DNS lookup)."""

    def __init__(self, service: Service, seconds: float) -> None:
        super().__init__(name="shutdown-deadline", daemon=True)
        self._service = service
        self._seconds = seconds

    def run(self) -> None:
        time.sleep(self._seconds)
        stage = self._service.stage
        os.write(2, f"approval-bot: shutdown did not end within {self._seconds:.0f} s ({stage}); exiting\n".encode())
        os._exit(1)


async def _cancel_leftovers(timeout: float) -> None:
    """Cancel and briefly await what libraries left running (AutoGen's runtime tasks of a run that was cut short),
    so that their cancellation is handled here rather than reported as errors by ``asyncio.run``."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.debug("a leftover task ended with %r", task.exception())
    if pending:
        log.debug("%d leftover task(s) did not end when cancelled", len(pending))


async def _close_models(model: RoleModels) -> list[str]:
    try:
        async with asyncio.timeout(MODELS_CLOSE_S):
            await model.aclose()
    except TimeoutError:
        return [f"the model clients: not closed within {MODELS_CLOSE_S:.1f} s"]
    return []


async def _close_redis(redis: aioredis.Redis) -> list[str]:
    try:
        async with asyncio.timeout(REDIS_CLOSE_S):
            await redis.aclose()
    except TimeoutError:
        return [f"the Redis client: not closed within {REDIS_CLOSE_S:.1f} s"]
    return []


def _address(raw: str) -> tuple[str, int]:
    from bot.mcp import parse_address

    try:
        return parse_address(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _requester(raw: str) -> str:
    from bot.approvals.requests import Asked

    try:
        Asked("a requester's check", requester=raw)  # the client's own rules for a requester
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return raw


def _positive_seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"takes a positive number of seconds, not {raw!r}")
    return seconds


def _progress_every(raw: str) -> float:
    try:
        seconds = _positive_seconds(raw)
    except argparse.ArgumentTypeError:
        seconds = float("nan")
    if not seconds <= 60:
        raise argparse.ArgumentTypeError(f"--progress-every takes seconds in (0, 60], not {raw!r}")
    return seconds


def _configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    logging.basicConfig(level=settings.log_level_number, handlers=[handler])
    if settings.log_level_number > logging.DEBUG:  # AutoGen logs every message between agents at INFO
        for noisy in ("autogen_core", "autogen_core.events", "autogen_agentchat"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
