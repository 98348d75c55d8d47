"""End-to-end runs per minute of the real bot through the emulator, with one replica and with two on one Redis.

Method (``benchmarks/rig.py`` puts the parts together as the end-to-end tests do): a real ``redis-server``, the
strict Slack emulator and the scripted model behind the OpenAI API in this process, ``approval-bot run`` as
subprocesses. ``--concurrency`` scripted requesters (people in #general) each keep one run in flight: type
``/agent-task``, wait for its card in #approvals, click Approve the moment the card appears (a scripted approver),
wait for the report to the requester, and start again. A run counts when its report reaches the requester.

The emulator's Web API rate limits are lifted for this benchmark (``SlackEmulator(rate_limits=False)``): on Slack,
``chat.update`` (Tier 3, about 50 a minute per app) caps every app near 50 runs a minute, whatever its replicas,
since each run updates its card when it is decided. Everything else (scopes, Block Kit, acks) stays strict.

Repeats alternate one replica and two on the same Redis (the second joins, and leaves with SIGTERM before the
next one-replica repeat), so that whatever else the machine does weighs on both alike. Each repeat starts its
requesters, lets ``--warmup`` runs finish, then times ``--runs`` consecutive completions (from the report before
the first to the last): runs per minute is their count over that time; the table shows the median of
``--repeats`` for each. CPU per run (and cores kept busy) is read from ``/proc`` over the timed runs, for the
bots, for this process (the emulator and the model) and for ``redis-server``: on 2 cores they share the machine.

Run from the repository root (about a minute on 2 cores)::

    python benchmarks/runs_per_minute.py
    python benchmarks/runs_per_minute.py --concurrency 30 --runs 100 --repeats 5

It prints each figure next to its target and exits 0 even when a target is missed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import Row, percentile, print_report
from benchmarks.rig import Rig, cpu_seconds, machine, no_proxies

TARGET_SCALE = 1.5
"""The issue's target: two replicas at least 1.5x the runs per minute of one (2 cores, the emulator beside them)."""
RUN_TIMEOUT_S = 60.0
SLACK_CAP = 50
"""Runs a minute Slack's chat.update tier (Tier 3) allows an app, whatever its replicas."""


@dataclass
class Phase:
    replicas: int
    rates: list[float] = field(default_factory=list)
    """Runs per minute, one per repeat."""
    latencies: list[float] = field(default_factory=list)
    """Command typed -> requester told, of the measured runs (seconds)."""
    cpu_ms: list[dict[str, float]] = field(default_factory=list)
    """CPU milliseconds per measured run, per repeat: bots, this process, redis-server."""
    busy: list[dict[str, float]] = field(default_factory=list)
    """Cores each kept busy over the measured runs, per repeat (CPU seconds over wall seconds)."""
    failed: int = 0

    def median_of(self, figures: list[dict[str, float]]) -> dict[str, float]:
        return {what: statistics.median(f[what] for f in figures) for what in figures[0]}


class Load:
    """``concurrency`` requesters, each with one run in flight: command, card, Approve at once, report."""

    def __init__(self, rig: Rig, requesters: list[str]) -> None:
        self.rig = rig
        self.done: list[float] = []
        """``perf_counter()`` of each report, in order."""
        self.latency: list[float] = []
        self.failed = 0
        self._stopping = False
        self._progress = asyncio.Condition()
        self._tasks = [
            asyncio.create_task(self._requester(n, user), name=f"requester-{n}") for n, user in enumerate(requesters)
        ]

    async def _requester(self, n: int, user: str) -> None:
        rig, k = self.rig, 0
        while not self._stopping:
            k += 1
            typed = time.perf_counter()
            try:
                run = await rig.run_id(await rig.command(f"Announce release {n}.{k}", user))
                ts, _ = await rig.cards.wait(run, RUN_TIMEOUT_S)
                await rig.approve(ts)
                _, told = await rig.reports.wait(run, RUN_TIMEOUT_S)
            except (TimeoutError, RuntimeError) as exc:
                self.failed += 1
                print(f"  requester {n}: run {k} failed: {type(exc).__name__}: {exc}"[:300], flush=True)
                continue
            async with self._progress:
                self.done.append(told)
                self.latency.append(told - typed)
                self._progress.notify_all()

    async def until(self, count: int) -> None:
        """Until ``count`` runs have been reported in all."""
        async with asyncio.timeout(RUN_TIMEOUT_S + count), self._progress:
            await self._progress.wait_for(lambda: len(self.done) >= count)

    async def stop(self) -> None:
        """No new runs; the ones in flight finish."""
        self._stopping = True
        await asyncio.gather(*self._tasks)


def cpu(rig: Rig) -> dict[str, float]:
    mine = os.times()
    return {
        "bots": sum(cpu_seconds(bot.process.pid) for bot in rig.bots if bot.process is not None),
        "emulator + model (this process)": mine.user + mine.system,
        "redis-server": cpu_seconds(rig.redis.pid),
    }


async def measure(rig: Rig, args: argparse.Namespace, phase: Phase, requesters: list[str]) -> None:
    """One repeat: ``--warmup`` runs, then ``--runs`` timed; the runs in flight then finish."""
    load = Load(rig, requesters)
    try:
        await load.until(args.warmup)
        start = len(load.done)
        before, since = cpu(rig), load.done[start - 1]
        await load.until(start + args.runs)
        after, span = cpu(rig), load.done[start + args.runs - 1] - since
        phase.rates.append(args.runs / span * 60)
        phase.cpu_ms.append({what: (after[what] - before[what]) * 1000 / args.runs for what in before})
        phase.busy.append({what: (after[what] - before[what]) / span for what in before})
        phase.latencies += load.latency[start : start + args.runs]
    finally:
        await load.stop()
    phase.failed += load.failed


async def benchmark(args: argparse.Namespace, workdir: Path) -> list[Phase]:
    """Repeats alternate one replica and two (the second stopped with SIGTERM, then started again), so that
    whatever else the machine does weighs on both alike."""
    async with Rig(workdir, rate_limits=False, keep=args.keep_log, LOG_LEVEL=args.log_level) as rig:
        phases = [Phase(1), Phase(2)]
        requesters = [rig.add_requester(f"requester{n}") for n in range(args.concurrency)]
        for k in range(args.repeats):
            for phase in phases:
                while len(rig.bots) < phase.replicas:
                    await rig.start_bot()
                while len(rig.bots) > phase.replicas:
                    await rig.stop_bot(rig.bots[-1])
                await measure(rig, args, phase, requesters)
                rate = phase.rates[-1]
                print(f"repeat {k + 1}/{args.repeats}, {phase.replicas} replica(s): {rate:.0f} runs/min", flush=True)
        if args.keep_log:
            print(f"bot logs under {workdir}")
        return phases


def ceiling(phase: Phase, cores: int) -> float:
    """Runs per minute the CPU allows: each replica is one Python process (one core at most), and the machine's
    cores are shared by the bots, this process and redis-server."""
    spent = phase.median_of(phase.cpu_ms)
    bots, total = spent["bots"], sum(spent.values())
    return 60_000 / max(bots / phase.replicas, total / cores)


def rows(phases: Sequence[Phase], args: argparse.Namespace) -> Iterator[Row]:
    of = f", median of {args.repeats} x {args.runs} runs"
    yield Row("Web API rate limits", "lifted", f"Slack: chat.update Tier 3 caps near {SLACK_CAP}/min")
    one, two = (statistics.median(p.rates) for p in phases)
    yield Row(f"baseline: 1 replica, runs/min{of}", f"{one:.0f}")
    yield Row(f"2 replicas on the same Redis, runs/min{of}", f"{two:.0f}")
    yield Row("  2 replicas against 1", f"{two / one:.2f}x", f">= {TARGET_SCALE:g}x", two / one >= TARGET_SCALE)
    pairs = [b / a for a, b in zip(phases[0].rates, phases[1].rates, strict=True)]
    yield Row("  the same, median of each repeat's pair (1 then 2 replicas)", f"{statistics.median(pairs):.2f}x")
    cores = os.cpu_count() or 1
    ceilings = [ceiling(phase, cores) for phase in phases]
    yield Row(
        f"  CPU ceiling on {cores} cores (CPU per run below), 1 / 2 replicas",
        f"{ceilings[0]:.0f} / {ceilings[1]:.0f} ({ceilings[1] / ceilings[0]:.2f}x)",
    )
    for phase in phases:
        label = f"{phase.replicas} replica{'s' if phase.replicas > 1 else ''}"
        p50, p99 = percentile(phase.latencies, 50), percentile(phase.latencies, 99)
        yield Row(f"{label}: command -> requester told, p50 / p99", f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms")
        spent, busy = phase.median_of(phase.cpu_ms), phase.median_of(phase.busy)
        yield Row(f"  CPU ms per run: {' / '.join(spent)}", " / ".join(f"{ms:.0f}" for ms in spent.values()))
        yield Row("  cores kept busy, the same three", " / ".join(f"{cores:.2f}" for cores in busy.values()))
        yield Row("  runs that failed (no card or no report in 60 s)", str(phase.failed), "0", phase.failed == 0)
    yield Row("requesters, each with one run in flight; the bots' LOG_LEVEL", f"{args.concurrency}; {args.log_level}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, default=20, help="runs in flight at once (default 20)")
    parser.add_argument("--runs", type=int, default=200, help="runs timed per repeat (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per replica count; medians (default 5)")
    parser.add_argument("--warmup", type=int, default=40, help="runs before the timing starts (default 40)")
    parser.add_argument("--log-level", default="INFO", help="the bots' LOG_LEVEL (default INFO, as deployed)")
    parser.add_argument("--keep-log", action="store_true", help="keep the bots' work dirs and logs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    no_proxies()
    print(machine(), flush=True)
    started = time.monotonic()
    phases = asyncio.run(benchmark(args, Path(tempfile.mkdtemp(prefix="runs-bench-"))))
    lines = list(rows(phases, args))
    print_report(lines, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
