"""Ack latency of the real bot for ``/agent-task`` and for card clicks, with 50 in flight and with 1; as Slack sees it.

Method: everything as the end-to-end tests put it together (``benchmarks/rig.py``): a real ``redis-server``
(``tests/redis_server.py``), the strict Slack emulator with the manifest's scopes, the scripted model behind the
OpenAI API (``tests/model_server.py``) and ``approval-bot run`` as a subprocess (``tests/botprocess.py``).
Latency is measured on the emulator's side, from the moment an envelope has been written on the bot's
WebSocket (``Recorder.record_envelope``) to the moment the emulator reads the bot's ack frame for it
(``Recorder.record_ack``), both on ``time.perf_counter()`` in this process.

Each repeat, on the same bot:

1. Baseline, 1 in flight: ``--sequential`` commands one after another; each waits for its ack, then for its card,
   so the bot is idle when the next is typed. Then Approve on each of those cards, one after another; each waits
   for its ack, then for the card to lose its buttons.
2. Load: ``--in-flight`` commands typed at once (one envelope after another on the socket, as fast as the
   emulator sends them); every ack is measured. The cards then arrive at chat.postMessage's pace (1 a second per
   channel after a burst of 3: the emulator's rate limits stay on, they apply to Web API calls and not to acks).
3. Once every run waits on its card: Approve clicked on all those cards at once; every ack is measured. The
   repeat ends when every card has lost its buttons (the runs have finished).

The emulator runs in this process's event loop, so a busy loop here delays the reading of an ack: the table shows
this loop's worst lag during each burst, to tell the bot's delay from the emulator's. With 50 samples, p99 is the
slowest ack (nearest rank).

Run from the repository root (about a minute per repeat on 2 cores)::

    python benchmarks/ack_latency.py
    python benchmarks/ack_latency.py --repeats 3       # medians of 3 repeats
    python benchmarks/ack_latency.py --in-flight 100 --log-level DEBUG --keep-log

It prints each figure next to its target and exits 0 even when a target is missed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import Row, percentile, print_report
from benchmarks.rig import RUN_ID, Rig, action_ids, machine, no_proxies, run_of
from bot.sandbox import SlackEmulator
from bot.sandbox.entities import Message
from bot.sandbox.records import Envelope
from bot.slack import blocks

TARGET_S = 0.100
"""The issue's target: ack p99 <= 100 ms with 50 in flight."""
SLACK_LIMIT_S = 3.0
"""Slack shows the person an error when an envelope is not acked within 3 s."""
FINISH_TIMEOUT_S = 60.0
"""Plus 1.5 s a run: every card update is a chat.update (Tier 3, 50 a minute), so more than 50 wait for tokens."""
CARDS_TIMEOUT_S = 180.0
"""50 cards at 1 a second per channel take about 50 s; a run of the bot this much slower is broken."""


# --- timing on the emulator's side -----------------------------------------------------------------------------


class AckClock:
    """Stamps every envelope the emulator sends and every ack it reads (wrapping its recorder's two methods)."""

    def __init__(self, slack: SlackEmulator) -> None:
        self.sent: dict[str, float] = {}
        self.acked: dict[str, float] = {}
        recorder = slack.recorder
        record_envelope, record_ack = recorder.record_envelope, recorder.record_ack

        def on_envelope(envelope: Envelope) -> None:
            self.sent[envelope.envelope_id] = time.perf_counter()
            record_envelope(envelope)

        def on_ack(ack: dict[str, Any]) -> None:
            self.acked.setdefault(str(ack["envelope_id"]), time.perf_counter())
            record_ack(ack)

        recorder.record_envelope = on_envelope  # type: ignore[method-assign]
        recorder.record_ack = on_ack  # type: ignore[method-assign]

    def latency(self, envelope: Envelope) -> float:
        return self.acked[envelope.envelope_id] - self.sent[envelope.envelope_id]


class LoopLag:
    """The worst delay of a 5 ms timer in this (the emulator's) event loop while the block runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            due = time.perf_counter() + 0.005
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - due)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# --- the workspace and what people do --------------------------------------------------------------------------


@dataclass
class Bench:
    slack: SlackEmulator
    clock: AckClock
    alice: str
    bob: str
    approvals: str

    def pending(self, runs: set[str]) -> list[Message]:
        """Cards in #approvals with their buttons, of the given runs (the card's metadata names its approval)."""
        return [m for m in self.slack.messages(self.approvals) if run_of(m) in runs and action_ids(m.blocks)]

    async def card_of(self, runs: set[str]) -> Message:
        found = await self.slack.wait_for(lambda: self.pending(runs), CARDS_TIMEOUT_S)
        return found[0]

    def decided(self, ts: str) -> bool:
        card = self.slack.message(self.approvals, ts)
        return card is not None and not action_ids(card.blocks)

    async def command(self, task: str) -> Envelope:
        return await self.slack.slash_command(self.alice, task, channel_id=self.slack.general)

    async def approve(self, card: Message) -> Envelope:
        return await self.slack.click(self.bob, self.approvals, card.ts, blocks.ACTION_APPROVE)

    async def until(self, condition: Callable[[], object], timeout: float) -> None:
        await self.slack.wait_for(lambda: bool(condition()), timeout)

    async def acks(self, envelopes: Sequence[Envelope]) -> list[float]:
        for envelope in envelopes:
            await self.slack.wait_ack(envelope, timeout=SLACK_LIMIT_S + 2)
        return [self.clock.latency(envelope) for envelope in envelopes]

    def runs(self, commands: Sequence[Envelope]) -> set[str]:
        """The workflow ids the acks of these commands announced ("Started *draft* (`wf-…`)")."""
        found = {RUN_ID.search(str(self.slack.acks[e.envelope_id].get("payload", {}).get("text"))) for e in commands}
        runs = {match.group(0) for match in found if match is not None}
        if len(runs) != len(commands):
            raise RuntimeError(f"only {len(runs)} of {len(commands)} commands were answered 'Started'")
        return runs


# --- one repeat -------------------------------------------------------------------------------------------------


@dataclass
class Repeat:
    command_seq: list[float] = field(default_factory=list)
    click_seq: list[float] = field(default_factory=list)
    command_load: list[float] = field(default_factory=list)
    click_load: list[float] = field(default_factory=list)
    lag_commands: float = math.nan
    lag_clicks: float = math.nan
    cards_s: float = math.nan
    finish_s: float = math.nan
    failures: int = 0


async def sequential(bench: Bench, n: int, result: Repeat) -> None:
    cards: list[Message] = []
    for i in range(n):
        command = await bench.command(f"Announce release {i}")
        result.command_seq += await bench.acks([command])
        card = await bench.card_of(bench.runs([command]))
        cards.append(card)
    for card in cards:
        result.click_seq += await bench.acks([await bench.approve(card)])
        await bench.until(partial(bench.decided, card.ts), 30)


async def loaded(bench: Bench, n: int, result: Repeat) -> None:
    async with LoopLag() as lag:
        commands = await asyncio.gather(*(bench.command(f"Announce release {i}") for i in range(n)))
        result.command_load = await bench.acks(commands)
    result.lag_commands = lag.worst
    runs = bench.runs(commands)
    started = time.perf_counter()
    await bench.until(lambda: len(bench.pending(runs)) >= n, CARDS_TIMEOUT_S)
    result.cards_s = time.perf_counter() - started
    cards = bench.pending(runs)
    async with LoopLag() as lag:
        clicks = await asyncio.gather(*(bench.approve(card) for card in cards))
        result.click_load = await bench.acks(clicks)
    result.lag_clicks = lag.worst
    started = time.perf_counter()
    await bench.until(lambda: all(bench.decided(card.ts) for card in cards), FINISH_TIMEOUT_S + 1.5 * n)
    result.finish_s = time.perf_counter() - started


async def benchmark(args: argparse.Namespace, workdir: Path) -> list[Repeat]:
    async with Rig(workdir, keep=args.keep_log, LOG_LEVEL=args.log_level) as rig:
        slack = rig.slack
        bench = Bench(slack, AckClock(slack), rig.alice, rig.bob, rig.approvals)
        bot = await rig.start_bot()
        print(f"bot connected; its log: {bot.log}", flush=True)
        repeats: list[Repeat] = []
        for k in range(args.repeats):
            result = Repeat()
            print(f"repeat {k + 1}/{args.repeats}: baseline, 1 in flight, {args.sequential} of each", flush=True)
            await sequential(bench, args.sequential, result)
            print(f"repeat {k + 1}/{args.repeats}: {args.in_flight} commands, then clicks, at once", flush=True)
            await loaded(bench, args.in_flight, result)
            result.failures = len(slack.failures)
            repeats.append(result)
        return repeats


# --- report -----------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(repeats: Sequence[Repeat], figure: Callable[[Repeat], float]) -> float:
    return statistics.median(figure(r) for r in repeats)


def rows(repeats: Sequence[Repeat], n: int, seq: int) -> Iterator[Row]:
    of = f" (median of {len(repeats)})" if len(repeats) > 1 else ""
    kinds = (("/agent-task", "command"), ("click Approve", "click"))
    for label, kind in kinds:

        def p(q: float, attr: str) -> Callable[[Repeat], float]:
            return lambda repeat: percentile(getattr(repeat, attr), q)

        load, base = f"{kind}_load", f"{kind}_seq"
        p50, p99 = median(repeats, p(50, load)), median(repeats, p(99, load))
        where = f"{n} in flight" + (", runs waiting on their cards" if kind == "click" else "")
        yield Row(f"{label} ack p50, {where}{of}", ms(p50))
        yield Row(f"{label} ack p99, {where}{of}", ms(p99), f"<= {TARGET_S * 1000:g} ms", p99 <= TARGET_S)
        yield Row("  the same, max over all repeats", ms(max(max(getattr(r, load)) for r in repeats)))
        yield Row(
            f"  under Slack's limit ({SLACK_LIMIT_S:g} s), max",
            "",
            "all",
            all(max(getattr(r, load)) < SLACK_LIMIT_S for r in repeats),
        )
        b50, b99 = median(repeats, p(50, base)), median(repeats, p(99, base))
        yield Row(f"  baseline, 1 in flight ({seq} sequential): p50 / p99", f"{ms(b50)} / {ms(b99)}")
        yield Row("  what load adds at p99", f"{(p99 - b99) * 1000:+.1f} ms")
    lag_c, lag_k = median(repeats, lambda r: r.lag_commands), median(repeats, lambda r: r.lag_clicks)
    yield Row("emulator's own loop lag, worst, commands / clicks", f"{ms(lag_c)} / {ms(lag_k)}")
    yield Row(f"{n} cards posted after the commands (1/s per channel)", f"{median(repeats, lambda r: r.cards_s):.1f} s")
    yield Row(f"{n} runs finished after the clicks", f"{median(repeats, lambda r: r.finish_s):.1f} s")
    failures = repeats[-1].failures
    yield Row("envelopes Slack would have failed (not acked in 3 s)", str(failures), "0", failures == 0)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--in-flight", type=int, default=50, help="commands, then clicks, sent at once (default 50)")
    parser.add_argument("--sequential", type=int, default=10, help="baseline samples, 1 in flight (default 10)")
    parser.add_argument("--repeats", type=int, default=1, help="repeats on the same bot; medians shown (default 1)")
    parser.add_argument("--log-level", default="INFO", help="the bot's LOG_LEVEL (default INFO)")
    parser.add_argument("--keep-log", action="store_true", help="keep the bot's work dir and log")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    no_proxies()
    print(machine(), flush=True)
    started = time.monotonic()
    repeats = asyncio.run(benchmark(args, Path(tempfile.mkdtemp(prefix="ack-bench-"))))
    lines = list(rows(repeats, args.in_flight, args.sequential))
    print_report(lines, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
