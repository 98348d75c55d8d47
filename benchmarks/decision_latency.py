"""Decision latency of the approval engine, against polling, with 10,000 waits pending; on a real redis-server.

Method (docs: /work/shared/redis-futures.md, sections 3.3-3.5):

1. Click -> resume. This process (A) creates N approvals and parks one ``store.wait()`` on each. Once all N are
   registered with the subscriber and Redis has served every wait's first read (``INFO commandstats``), it starts
   a clicker process (B: this file with ``--clicker``) that calls ``store.decide()`` on one approval every 2 ms.
   Latency runs from B's call to the moment A's ``wait()`` returns. Both ends read
   ``clock_gettime(CLOCK_MONOTONIC)``, which is system-wide; B prints its call times as JSON when it is done.
2. Polling baselines. Waiters that ``HGET`` the record's state every 1 s and every 5 s (the AutoGen Slack recipe
   polls every 5 s) from random phases, both intervals at once. B decides each approval at a uniformly random
   time within a window. The delay runs from B's call to the poll that sees the decision.
3. 10,000 pending waits in one process. Redis connections held by this process are counted with ``CLIENT LIST``
   by client name, once all waits are pending, and at their peak (sampled every 10 ms from setup to the last
   resume). Resident memory per wait is ``VmRSS`` after ``gc.collect()``, read before the waits start (the
   approvals already exist) and again once all are pending. Then B decides all of them with 8 concurrent
   ``decide()`` calls; the rate is N / (B's first call -> the last ``wait()`` returning). The same is repeated
   with B sending the TRANSITION script that ``decide()`` runs, pipelined 200 per round trip: B's own speed
   then no longer limits the rate, which shows what the waiting side alone can absorb.

Run from the repository root (about 30 s on 2 cores)::

    python benchmarks/decision_latency.py
    python benchmarks/decision_latency.py --decisions 1000 --waits 10000
    python benchmarks/decision_latency.py --quick      # smaller numbers, a smoke test

It starts its own ``redis-server`` (``tests/redis_server.py``) and stops it. It prints each figure next to its
target and exits 0 even when a target is missed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import Row, percentile, table
from bot.approvals import ApprovalError, ApprovalKey, ApprovalStore, Outcome, State, StoreSettings, keys, scripts
from bot.approvals.connection import MAX_CONNECTIONS, connect
from bot.approvals.transitions import new_nonce, transition_args, transition_keys
from tests.redis_server import RedisServer

WAITER = "bench-waiter"
CLICKER = "bench-clicker"
TIMEOUT_S = 900.0
"""Approvals outlive the run: nothing here may expire."""
DECIDER = "U0BENCH001"


def now() -> float:
    """System-wide monotonic clock, comparable between processes."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def named(url: str, name: str) -> str:
    """The URL with a client name, so ``CLIENT LIST`` tells this process's connections from B's."""
    return f"{url}?client_name={name}"


def rss_kb() -> int:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# --- process B: the clicker -------------------------------------------------------------------------------------


@dataclass
class Clicker:
    """Process B: decides approvals and stamps each call and reply."""

    client: aioredis.Redis
    store: ApprovalStore
    calls: dict[str, float] = field(default_factory=dict)
    returned: dict[str, float] = field(default_factory=dict)
    errors: int = 0

    async def decide(self, approval_id: str) -> None:
        self.calls[approval_id] = now()
        try:
            await self.store.decide(approval_id, Outcome.APPROVED, DECIDER)
        except ApprovalError:
            self.errors += 1
        self.returned[approval_id] = now()

    async def paced(self, schedule: Iterable[Sequence[Any]]) -> None:
        """One ``decide()`` at each [id, offset_s], on an absolute clock so slow calls do not shift the rest."""
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks: list[asyncio.Task[None]] = []
        for approval_id, offset in sorted(schedule, key=lambda item: item[1]):
            await asyncio.sleep(max(0.0, start + offset - loop.time()))
            tasks.append(asyncio.create_task(self.decide(approval_id)))
        await asyncio.gather(*tasks)

    async def burst(self, ids: list[str], concurrency: int) -> None:
        """``decide()`` on every id with ``concurrency`` calls in flight."""
        queue = iter(ids)

        async def worker() -> None:
            for approval_id in queue:
                await self.decide(approval_id)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def pipelined(self, ids: list[str], batch: int = 200) -> None:
        """The TRANSITION script ``decide()`` runs, ``batch`` per round trip: B's Python is then no bottleneck.

        Keys and arguments come from ``bot.approvals.transitions``, as ``ApprovalStore.decide`` builds them.
        """
        sha = await self.client.script_load(scripts.TRANSITION)
        settings = StoreSettings()
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            pipe = self.client.pipeline(transaction=False)
            for i in chunk:
                script_keys = transition_keys(i)
                args = transition_args(
                    i, Outcome.APPROVED.value, DECIDER, "", "decide", nonce=new_nonce(), settings=settings
                )
                pipe.evalsha(sha, len(script_keys), *script_keys, *args)
            called = now()
            replies = await pipe.execute()
            returned = now()
            self.errors += sum(1 for reply in replies if reply[0] != "ok")
            self.calls.update(dict.fromkeys(chunk, called))
            self.returned.update(dict.fromkeys(chunk, returned))


async def click(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Run one plan: ``schedule`` [[id, offset_s], ...], or ``burst`` ids with ``concurrency`` or ``pipelined``."""
    client = connect(url, parser=str(plan.get("parser", "default")))
    clicker = Clicker(client, ApprovalStore(client))
    concurrency = int(plan.get("concurrency", 1))
    try:
        await client.script_load(scripts.TRANSITION)  # no NOSCRIPT round trip on the first decision
        await asyncio.gather(*(client.ping() for _ in range(concurrency)))  # open the connections up front
        if "schedule" in plan:
            await clicker.paced(plan["schedule"])
        elif plan.get("pipelined"):
            await clicker.pipelined(plan["burst"])
        else:
            await clicker.burst(plan["burst"], concurrency)
    finally:
        await client.aclose()
    return {"calls": clicker.calls, "returned": clicker.returned, "errors": clicker.errors}


@dataclass
class ClickReport:
    calls: dict[str, float]
    returned: dict[str, float]
    errors: int

    @property
    def round_trips(self) -> list[float]:
        return [self.returned[i] - t for i, t in self.calls.items()]

    @property
    def span(self) -> float:
        """B's first call to its last reply."""
        return max(self.returned.values()) - min(self.calls.values())


async def run_clicker(url: str, plan: dict[str, Any]) -> ClickReport:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--clicker",
        named(url, CLICKER),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate(json.dumps(plan).encode())
    if proc.returncode != 0:
        raise RuntimeError(f"clicker exited with {proc.returncode}")
    return ClickReport(**json.loads(out.decode().splitlines()[-1]))


# --- process A: waiters --------------------------------------------------------------------------------------------


async def create_approvals(store: ApprovalStore, workflow_id: str, n: int, concurrency: int = 8) -> list[str]:
    """Create n pending approvals, one per run (as n runs waiting on cards do), with ``concurrency`` calls in
    flight (workers, not n tasks: less RSS noise)."""
    ids = [ApprovalKey(f"{workflow_id}-{run}", 1).approval_id for run in range(n)]
    queue = iter(range(n))

    async def worker() -> None:
        for run in queue:
            await store.create(
                ApprovalKey(f"{workflow_id}-{run}", 1),
                prompt="Ship it?",
                requester="U0BENCH000",
                workflow="bench",
                timeout_s=TIMEOUT_S,
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ids


@dataclass
class Waiters:
    """One ``store.wait()`` task per approval; stamps the moment each returns."""

    store: ApprovalStore
    resumed: dict[str, float] = field(default_factory=dict)
    tasks: list[asyncio.Task[State]] = field(default_factory=list)

    def park(self, ids: Sequence[str]) -> None:
        self.tasks.extend(asyncio.create_task(self._wait(approval_id)) for approval_id in ids)

    async def _wait(self, approval_id: str) -> State:
        approval = await self.store.wait(approval_id)
        self.resumed[approval_id] = now()
        return approval.state

    async def until_parked(self, probe: redis.Redis, limit_s: float = 120.0) -> None:
        """Until every wait is registered and Redis has served its first read (HGETALL + TIME).

        Call ``probe.config_resetstat()`` before ``park``.
        """
        n = len(self.tasks)
        deadline = now() + limit_s
        while self.store.subscriber.waiting < n or command_calls(probe, "hgetall") < n:
            if now() > deadline:
                raise TimeoutError(f"only {self.store.subscriber.waiting} of {n} waits registered")
            await asyncio.sleep(0.005)

    async def finish(self, limit_s: float) -> int:
        """How many waits returned ``approved`` within ``limit_s``; the others are cancelled."""
        done, pending = await asyncio.wait(self.tasks, timeout=limit_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return sum(1 for t in done if not t.cancelled() and t.exception() is None and t.result() is State.APPROVED)


def command_calls(probe: redis.Redis, command: str) -> int:
    stats = probe.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def connections(probe: redis.Redis, name: str) -> int:
    return sum(1 for client in probe.client_list() if client.get("name") == name)


class ConnectionPeak:
    """Samples ``CLIENT LIST`` every 10 ms in a thread and keeps the highest count of one client name."""

    def __init__(self, make_client: Callable[[], redis.Redis], name: str) -> None:
        self.peak = 0
        self._client = make_client()
        self._name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, connections(self._client, self._name))


# --- the three measurements -------------------------------------------------------------------------------------


@dataclass
class Push:
    n: int
    interval_s: float
    latencies: list[float]
    round_trips: list[float]
    approved: int


async def measure_push(url: str, probe: redis.Redis, n: int, interval_s: float, parser: str = "default") -> Push:
    client = connect(named(url, WAITER), parser=parser)
    store = ApprovalStore(client)
    await store.start(maintenance=False)
    try:
        ids = await create_approvals(store, "push", n)
        probe.config_resetstat()
        waiters = Waiters(store)
        waiters.park(ids)
        await waiters.until_parked(probe)
        await asyncio.sleep(0.2)  # let the last replies be parsed
        schedule = [[i, k * interval_s] for k, i in enumerate(ids)]
        report = await run_clicker(url, {"schedule": schedule, "parser": parser})
        approved = await waiters.finish(limit_s=10)
    finally:
        await store.aclose()
        await client.aclose()
    latencies = [waiters.resumed[i] - report.calls[i] for i in ids if i in waiters.resumed]
    return Push(n, interval_s, latencies, report.round_trips, approved)


async def poll(
    client: aioredis.Redis, approval_id: str, every_s: float, phase_s: float, detected: dict[str, float]
) -> None:
    """The polling recipe: read the state every ``every_s`` until it is no longer pending."""
    key = keys.record_key(approval_id)
    loop = asyncio.get_running_loop()
    next_at = loop.time() + phase_s
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        if await client.hget(key, "state") != State.PENDING:
            detected[approval_id] = now()
            return
        next_at += every_s


async def measure_polling(
    url: str, n: int, window_s: float, intervals: Sequence[float], rng: random.Random
) -> dict[float, list[float]]:
    client = connect(named(url, WAITER))
    store = ApprovalStore(client)  # create() only: polling needs no subscriber
    detected: dict[str, float] = {}
    groups: dict[float, list[str]] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        for every_s in intervals:
            groups[every_s] = ids = await create_approvals(store, f"poll-{every_s:g}s", n)
            tasks += [asyncio.create_task(poll(client, i, every_s, rng.uniform(0, every_s), detected)) for i in ids]
        schedule = [[i, rng.uniform(0, window_s)] for ids in groups.values() for i in ids]
        report = await run_clicker(url, {"schedule": schedule})
        _, late = await asyncio.wait(tasks, timeout=max(intervals) + 5)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await client.aclose()
    return {every_s: [detected[i] - report.calls[i] for i in ids if i in detected] for every_s, ids in groups.items()}


@dataclass
class Load:
    how: str
    pipelined: bool
    n: int
    create_s: float
    park_s: float
    rss_kb_before: int
    rss_kb_pending: int
    held: int
    peak: int
    resolve_s: float
    clicker_s: float
    latencies: list[float]
    approved: int


async def measure_load(
    server: RedisServer, probe: redis.Redis, n: int, concurrency: int, pipelined: bool, parser: str = "default"
) -> Load:
    how = "TRANSITION pipelined 200 per round trip" if pipelined else f"{concurrency} concurrent decide()"
    if parser != "default":
        how += f", {parser} parser (baseline)"
    with ConnectionPeak(server.client, WAITER) as sampler:
        client = connect(named(server.url, WAITER), parser=parser)
        store = ApprovalStore(client)
        await store.start(maintenance=False)
        try:
            started = now()
            ids = await create_approvals(store, "pipelined" if pipelined else "decide", n, concurrency)
            create_s = now() - started
            before = rss_kb()
            probe.config_resetstat()
            started = now()
            waiters = Waiters(store)
            waiters.park(ids)
            await waiters.until_parked(probe)
            park_s = now() - started
            await asyncio.sleep(0.2)  # let the last replies be parsed
            pending = rss_kb()
            held = connections(probe, WAITER)
            plan = {"burst": ids, "concurrency": concurrency, "pipelined": pipelined, "parser": parser}
            report = await run_clicker(server.url, plan)
            approved = await waiters.finish(limit_s=60)
        finally:
            await store.aclose()
            await client.aclose()
    first = min(report.calls.values())
    resolve_s = max(waiters.resumed.values(), default=math.nan) - first
    latencies = [waiters.resumed[i] - report.calls[i] for i in ids if i in waiters.resumed]
    return Load(
        how=how,
        pipelined=pipelined,
        n=n,
        create_s=create_s,
        park_s=park_s,
        rss_kb_before=before,
        rss_kb_pending=pending,
        held=held,
        peak=sampler.peak,
        resolve_s=resolve_s,
        clicker_s=report.span,
        latencies=latencies,
        approved=approved,
    )


# --- report -----------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def rows(push: Push, push_python: Push, polls: dict[float, list[float]], loads: Sequence[Load]) -> Iterator[Row]:
    p50, p99 = percentile(push.latencies, 50), percentile(push.latencies, 99)
    label = f"click -> resume p50 ({push.n:,} clicks, 1 per {push.interval_s * 1000:g} ms)"
    yield Row(label, ms(p50), "<= 0.5 ms", p50 <= 0.0005)
    yield Row("click -> resume p90", ms(percentile(push.latencies, 90)))
    yield Row("click -> resume p99", ms(p99), "<= 2 ms", p99 <= 0.002)
    python_p50, python_p99 = percentile(push_python.latencies, 50), percentile(push_python.latencies, 99)
    yield Row("  the same, pure-Python parser (baseline): p50 / p99", f"{ms(python_p50)} / {ms(python_p99)}")
    yield Row("click -> resume max", ms(max(push.latencies, default=math.nan)))
    yield Row("  decide() round trip in B, p50", ms(percentile(push.round_trips, 50)))
    yield Row("  waits resumed with 'approved'", f"{push.approved:,}/{push.n:,}", "all", push.approved == push.n)
    for every_s, delays in polls.items():
        label = f"poll every {every_s:g} s ({len(delays)} waiters)"
        yield Row(f"{label}: detection p50", f"{percentile(delays, 50):.3f} s")
        yield Row(f"{label}: detection p99", f"{percentile(delays, 99):.3f} s")
        yield Row(f"  ratio poll p50 / push p50 ({every_s:g} s)", f"{percentile(delays, 50) / p50:,.0f}x")
    first = loads[0]
    per_wait = (first.rss_kb_pending - first.rss_kb_before) / first.n
    yield Row(f"Redis connections, {first.n:,} waits pending", str(first.held), "<= 10", first.held <= 10)
    yield Row("  peak connections, setup to last resume", str(first.peak), "<= 10", first.peak <= 10)
    yield Row("memory per pending wait (VmRSS)", f"{per_wait:.2f} KB", "<= 5 KB", per_wait <= 5)
    yield Row(f"  RSS before / with {first.n:,} pending", f"{first.rss_kb_before:,} / {first.rss_kb_pending:,} KB")
    yield Row(f"  create {first.n:,} approvals (8 concurrent)", f"{first.create_s:.2f} s")
    yield Row(f"  park {first.n:,} waits (register + first read)", f"{first.park_s:.2f} s")
    for load in loads:
        rate = load.n / load.resolve_s
        if load.pipelined and "baseline" in load.how:
            yield Row(f"all {load.n:,} resolved, {load.how}", f"{rate:,.0f}/s")
        elif load.pipelined:
            yield Row(f"all {load.n:,} resolved, {load.how}", f"{rate:,.0f}/s", ">= 10,000/s", rate >= 10_000)
        else:  # one clicker process's round trips set this rate, not the waiting side (see B's span)
            yield Row(f"all {load.n:,} resolved, {load.how} (clicker-bound)", f"{rate:,.0f}/s")
        yield Row("  first decision -> last wait() returns", f"{load.resolve_s:.3f} s")
        yield Row(
            "  B's own span: first call -> last reply", f"{load.clicker_s:.3f} s ({load.n / load.clicker_s:,.0f}/s)"
        )
        yield Row(
            "  click -> resume p50 / p99 in the burst",
            f"{ms(percentile(load.latencies, 50))} / {ms(percentile(load.latencies, 99))}",
        )
        yield Row("  waits resumed with 'approved'", f"{load.approved:,}/{load.n:,}", "all", load.approved == load.n)


async def benchmark(server: RedisServer, args: argparse.Namespace) -> list[Row]:
    rng = random.Random(args.seed)
    with server.client() as probe:
        print(
            f"redis-server {probe.info('server')['redis_version']}, redis-py {redis.__version__}, "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, pool of {MAX_CONNECTIONS}, "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        print(f"1/3 click -> resume: {args.decisions:,} waits, one decision every {args.interval_ms:g} ms", flush=True)
        push = await measure_push(server.url, probe, args.decisions, args.interval_ms / 1000)
        probe.flushall()
        print("1/3 the same, reading with the pure-Python parser (the baseline)", flush=True)
        push_python = await measure_push(server.url, probe, args.decisions, args.interval_ms / 1000, "python")
        probe.flushall()
        print(
            f"2/3 polling: {args.poll_waiters} waiters per interval, decisions over {args.poll_window:g} s", flush=True
        )
        polls = await measure_polling(server.url, args.poll_waiters, args.poll_window, (1.0, 5.0), rng)
        probe.flushall()
        loads: list[Load] = []
        parser = "hiredis" if HIREDIS_AVAILABLE else "pure-Python (hiredis is not installed)"
        for pipelined, chosen in ((False, "default"), (True, "default"), (True, "python")):
            how = "pipelined TRANSITION scripts" if pipelined else f"{args.concurrency} concurrent decide() calls"
            using = parser if chosen == "default" else "the pure-Python parser, as the baseline"
            print(f"3/3 {args.waits:,} pending waits, decided by {how}, reading with {using}", flush=True)
            loads.append(await measure_load(server, probe, args.waits, args.concurrency, pipelined, chosen))
            probe.flushall()
    return list(rows(push, push_python, polls, loads))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--decisions", type=int, default=1000, help="click -> resume samples (default 1000)")
    parser.add_argument("--interval-ms", type=float, default=2.0, help="time between clicks (default 2)")
    parser.add_argument("--waits", type=int, default=10_000, help="concurrent pending waits (default 10000)")
    parser.add_argument("--concurrency", type=int, default=8, help="decide() calls in flight in the burst")
    parser.add_argument("--poll-waiters", type=int, default=100, help="polling waiters per interval")
    parser.add_argument("--poll-window", type=float, default=5.0, help="seconds over which polled ones are decided")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="300 decisions, 2,000 waits, 40 pollers, 2 s window")
    parser.add_argument("--clicker", metavar="URL", help=argparse.SUPPRESS)  # process B; plan on stdin
    if parser.parse_known_args(argv)[0].quick:  # smaller defaults; explicit flags still win
        parser.set_defaults(decisions=300, waits=2000, poll_waiters=40, poll_window=2.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.clicker:
        print(json.dumps(asyncio.run(click(args.clicker, json.load(sys.stdin)))))
        return 0
    server = RedisServer()
    server.start()
    started = time.monotonic()
    try:
        lines = asyncio.run(benchmark(server, args))
    finally:
        server.close()
    print()
    print(table(lines))
    missed = [r.metric.strip() for r in lines if r.passed is False]
    print(f"\n{len(missed)} target(s) missed: {'; '.join(missed)}" if missed else "\nall targets met")
    print(f"total {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
