"""Decision latency of the approval engine, against polling, with 10,000 waits pending; on a real redis-server.

Method (docs: /work/shared/redis-futures.md, sections 3.3-3.5). Every phase runs on a fresh event loop in this
process (A) against a clicker process (B: this file with ``--clicker``); both ends read
``clock_gettime(CLOCK_MONOTONIC)``, which is system-wide, and B prints its call times as JSON when it is done.

1. 10,000 pending waits in one process, decided by pipelined transitions (the throughput target). A creates N
   approvals and parks one ``store.wait()`` on each; once all are registered and Redis has served every wait's
   first read (``INFO commandstats``), B sends the TRANSITION script that ``decide()`` runs (keys and arguments
   from ``bot.approvals.transitions``), 200 per round trip, two pipelines in flight (``--lanes``: B builds one
   while Redis runs the other; with one, B's Python and Redis take turns and B is the limit). The rate is N /
   (B's first call -> the last ``wait()`` returning). Measured four ways in each repeat: the default loop with
   hiredis (what the bot runs), uvloop in both processes, redis-py's pure-Python parser and packer (the fallback
   without hiredis, as the baseline), and one pipeline in flight (the figure measured before). For each, the CPU
   time per decision of A (``getrusage``), of B (its burst only) and of redis-server (``INFO cpu``), and
   redis-server's time per TRANSITION (``INFO commandstats``). Redis connections
   held by A are counted with ``CLIENT LIST`` by client name once all waits are pending, and at their peak
   (sampled every 50 ms from setup to the last resume); resident memory per wait is ``VmRSS`` after
   ``gc.collect()`` before the waits start and once all are pending, in the run's first phase.
2. Click -> resume with no other load: N waits, B calls ``store.decide()`` on one every 2 ms; latency runs from
   B's call to the moment A's ``wait()`` returns. Default loop, uvloop (both processes), pure-Python parser.
3. Click -> resume under load: the same, one click every 5 ms, while A also holds 50 other pending waits and 10
   runs call a scripted model back to back through AutoGen's ``OpenAIChatCompletionClient`` (what the bot's
   workflows use) over HTTP to ``tests/model_server.py`` in a third process, answering after 50 ms
   (``--model-latency-ms``); and again with a model that answers at once (a stress row: the model clients then
   keep A's loop busy).
4. Once per run, the baselines: waiters that ``HGET`` the record's state every 1 s and every 5 s (the AutoGen
   Slack recipe polls every 5 s) from random phases while B decides each at a random time within a window; and
   the 10,000 waits decided by one clicker making 8 concurrent ``decide()`` calls (B's round trips are the limit).

Phases 1-3 are repeated (``--repeats``, default 3) and reported as medians, with the range over repeats.

Run from the repository root (about 110 s on 2 cores)::

    python benchmarks/decision_latency.py
    python benchmarks/decision_latency.py --repeats 5 --waits 10000
    python benchmarks/decision_latency.py --quick      # one repeat, smaller numbers: a smoke test

It starts its own ``redis-server`` (``tests/redis_server.py``) and model server, and stops them. uvloop's rows are
skipped when uvloop is not installed. It prints each figure next to its target and exits 0 even when a target is
missed: it is a report, not a test.
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
import resource
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import Row, percentile, print_report
from bot.approvals import ApprovalError, ApprovalKey, ApprovalStore, Outcome, State, StoreSettings, keys, scripts
from bot.approvals.connection import MAX_CONNECTIONS, connect
from bot.approvals.transitions import new_nonce, transition_args, transition_keys
from tests.redis_server import RedisServer

try:
    import uvloop
except ImportError:  # the default loop's rows are measured all the same
    uvloop = None

WAITER = "bench-waiter"
CLICKER = "bench-clicker"
TIMEOUT_S = 900.0
"""Approvals outlive the run: nothing here may expire."""
DECIDER = "U0BENCH001"


R = TypeVar("R")
LOOPS = ("asyncio", "uvloop")


def run_on(loop: str, coro: Coroutine[Any, Any, R]) -> R:
    """Run ``coro`` on a fresh event loop: asyncio's default, or uvloop's."""
    if loop == "uvloop":
        assert uvloop is not None, "uvloop is not installed"
        return uvloop.run(coro)
    return asyncio.run(coro)


def cpu_s() -> float:
    """This process's CPU time (user + system), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
    cpu_s: float = 0.0

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

    async def pipelined(self, ids: list[str], batch: int = 200, lanes: int = 2) -> None:
        """The TRANSITION script ``decide()`` runs, ``batch`` per round trip, ``lanes`` pipelines in flight (so B
        builds one while Redis runs another): B's Python is then not what limits the rate.

        Keys and arguments come from ``bot.approvals.transitions``, as ``ApprovalStore.decide`` builds them.
        """
        sha = await self.client.script_load(scripts.TRANSITION)
        settings = StoreSettings()
        chunks = iter(range(0, len(ids), batch))

        async def lane() -> None:
            for start in chunks:
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

        await asyncio.gather(*(lane() for _ in range(lanes)))


async def click(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Run one plan: ``schedule`` [[id, offset_s], ...], or ``burst`` ids with ``concurrency`` or ``pipelined``."""
    client = connect(url, parser=str(plan.get("parser", "default")))
    clicker = Clicker(client, ApprovalStore(client))
    concurrency = int(plan.get("concurrency", 1))
    try:
        await client.script_load(scripts.TRANSITION)  # no NOSCRIPT round trip on the first decision
        await asyncio.gather(*(client.ping() for _ in range(concurrency)))  # open the connections up front
        started = cpu_s()
        if "schedule" in plan:
            await clicker.paced(plan["schedule"])
        elif plan.get("pipelined"):
            await clicker.pipelined(plan["burst"], lanes=int(plan.get("lanes", 2)))
        else:
            await clicker.burst(plan["burst"], concurrency)
        clicker.cpu_s = cpu_s() - started
    finally:
        await client.aclose()
    return {"calls": clicker.calls, "returned": clicker.returned, "errors": clicker.errors, "cpu_s": clicker.cpu_s}


@dataclass
class ClickReport:
    calls: dict[str, float]
    returned: dict[str, float]
    errors: int
    cpu_s: float

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


def redis_cpu_s(probe: redis.Redis) -> float:
    info = probe.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


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

    async def until_parked(self, probe: redis.Redis, n: int, limit_s: float = 120.0) -> None:
        """Until ``n`` waits are registered and Redis has served their first reads (HGETALL + TIME).

        Call ``probe.config_resetstat()`` before ``park``.
        """
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
    """Samples ``CLIENT LIST`` every 50 ms in a thread and keeps the highest count of one client name (the thread
    shares the waiting process's GIL: sampling more often took CPU from the waits measured)."""

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
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, connections(self._client, self._name))


# --- the measurements ------------------------------------------------------------------------------------------


@dataclass
class Push:
    n: int
    interval_s: float
    latencies: list[float]
    round_trips: list[float]
    approved: int


async def measure_push(
    url: str,
    probe: redis.Redis,
    n: int,
    interval_s: float,
    parser: str = "default",
    loop: str = "asyncio",
    load: Callable[[ApprovalStore], Coroutine[Any, Any, Callable[[], Coroutine[Any, Any, None]]]] | None = None,
) -> Push:
    """``n`` waits decided one every ``interval_s`` from B. ``load`` starts other work in this process first (and
    returns how to stop it): other pending waits, runs calling their model."""
    client = connect(named(url, WAITER), parser=parser)
    store = ApprovalStore(client)
    await store.start(maintenance=False)
    stop = None
    try:
        stop = await load(store) if load is not None else None
        ids = await create_approvals(store, f"push-{loop}-{parser}", n)
        probe.config_resetstat()
        waiters = Waiters(store)
        waiters.park(ids)
        await waiters.until_parked(probe, n)
        await asyncio.sleep(0.2)  # let the last replies be parsed
        schedule = [[i, k * interval_s] for k, i in enumerate(ids)]
        report = await run_clicker(url, {"schedule": schedule, "parser": parser, "loop": loop})
        approved = await waiters.finish(limit_s=10)
    finally:
        if stop is not None:
            await stop()
        await store.aclose()
        await client.aclose()
    latencies = [waiters.resumed[i] - report.calls[i] for i in ids if i in waiters.resumed]
    return Push(n, interval_s, latencies, report.round_trips, approved)


def busy_runs(model: dict[str, str], waits: int, runs: int) -> Callable[[ApprovalStore], Coroutine[Any, Any, Any]]:
    """The loaded case: ``waits`` other approvals pending in this process (never decided here), and ``runs`` runs
    calling their scripted model back to back through AutoGen's ``OpenAIChatCompletionClient`` (the client the
    bot's workflows use) over HTTP to a model server in another process."""

    async def start(store: ApprovalStore) -> Callable[[], Coroutine[Any, Any, None]]:
        from autogen_core.models import ChatCompletionClient, UserMessage

        others = await create_approvals(store, "pending-other", waits)
        parked = Waiters(store)
        parked.park(others)
        clients = [ChatCompletionClient.load_component(model["config"]) for _ in range(runs)]
        stopping = asyncio.Event()
        calls = [0]
        answered: list[asyncio.Event] = [asyncio.Event() for _ in clients]

        async def run(client: ChatCompletionClient, first: asyncio.Event) -> None:
            messages: list[Any] = [UserMessage(content="Draft the release note.", source="user")]
            while not stopping.is_set():
                await client.create(messages)
                calls[0] += 1
                first.set()

        tasks = [asyncio.create_task(run(client, event)) for client, event in zip(clients, answered, strict=True)]
        async with asyncio.timeout(30):  # every run has had an answer before the clicks start
            await asyncio.gather(*(event.wait() for event in answered))

        async def stop() -> None:
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in clients:
                await client.close()
            for task in parked.tasks:
                task.cancel()
            await asyncio.gather(*parked.tasks, return_exceptions=True)
            model["calls"] = str(int(model.get("calls", "0")) + calls[0])

        return stop

    return start


async def serve_model(latency_ms: float) -> None:
    """The ``--model-server`` process: the scripted model on a free port; prints its config, serves until stdin
    closes."""
    from tests.model_server import ModelServer  # aiohttp: only this process needs it (more objects make every
    # other process's full garbage collections longer, and those pauses show in the tails measured)

    class PacedModelServer(ModelServer):
        """The scripted model, answering each request after ``latency_s`` (a real model takes seconds)."""

        def __init__(self, latency_s: float) -> None:
            super().__init__()
            self.latency_s = latency_s

        async def _completions(self, request: Any) -> Any:
            await asyncio.sleep(self.latency_s)
            return await super()._completions(request)

    async with PacedModelServer(latency_ms / 1000) as server:
        name = server.add_answers(["Here is the draft: v2.4 ships the approval engine's sharded pub/sub."])
        print(json.dumps(server.config(name)), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


class ModelProcess:
    """The model server in a process of its own, as a real model is elsewhere."""

    def __init__(self, latency_ms: float) -> None:
        self._latency_ms = latency_ms

    def __enter__(self) -> dict[str, Any]:
        import subprocess

        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--model-server", str(self._latency_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        return {"config": json.loads(self._proc.stdout.readline())}

    def __exit__(self, *_: object) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=10)


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
    waiter_cpu_s: float
    clicker_cpu_s: float
    redis_cpu_s: float
    transition_us: float

    @property
    def rate(self) -> float:
        return self.n / self.resolve_s


async def measure_load(
    server: RedisServer,
    probe: redis.Redis,
    n: int,
    concurrency: int,
    pipelined: bool,
    parser: str = "default",
    loop: str = "asyncio",
    lanes: int = 2,
) -> Load:
    how = "TRANSITION pipelined 200 per round trip" if pipelined else f"{concurrency} concurrent decide()"
    with ConnectionPeak(server.client, WAITER) as sampler:
        client = connect(named(server.url, WAITER), parser=parser)
        store = ApprovalStore(client)
        await store.start(maintenance=False)
        try:
            started = now()
            ids = await create_approvals(store, f"load-{pipelined}-{parser}-{loop}", n, concurrency)
            create_s = now() - started
            before = rss_kb()
            probe.config_resetstat()
            started = now()
            waiters = Waiters(store)
            waiters.park(ids)
            await waiters.until_parked(probe, n)
            park_s = now() - started
            await asyncio.sleep(0.2)  # let the last replies be parsed
            pending = rss_kb()
            held = connections(probe, WAITER)
            plan = {"burst": ids, "concurrency": concurrency, "pipelined": pipelined, "parser": parser, "loop": loop}
            plan["lanes"] = lanes
            redis_before, waiter_before = redis_cpu_s(probe), cpu_s()
            report = await run_clicker(server.url, plan)
            approved = await waiters.finish(limit_s=60)
            waiter_cpu, redis_cpu = cpu_s() - waiter_before, redis_cpu_s(probe) - redis_before
            stats = probe.info("commandstats").get("cmdstat_evalsha", {})
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
        waiter_cpu_s=waiter_cpu,
        clicker_cpu_s=report.cpu_s,
        redis_cpu_s=redis_cpu,
        transition_us=float(stats.get("usec_per_call", math.nan)),
    )


# --- report -----------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """The median, and the range over repeats when there are several."""
    if len(values) < 2:
        return fmt(median(values))
    return f"{fmt(median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def pct(pushes: Sequence[Push], q: float) -> list[float]:
    return [percentile(push.latencies, q) for push in pushes]


@dataclass
class Results:
    """Every repeat's measurements, by variant."""

    push: dict[str, list[Push]] = field(default_factory=dict)
    loads: dict[str, list[Load]] = field(default_factory=dict)
    polls: dict[float, list[float]] = field(default_factory=dict)
    burst: Load | None = None
    model_calls: int = 0
    stress_calls: int = 0

    def add_push(self, name: str, push: Push) -> None:
        self.push.setdefault(name, []).append(push)

    def add_load(self, name: str, load: Load) -> None:
        self.loads.setdefault(name, []).append(load)


def push_rows(results: Results, args: argparse.Namespace) -> Iterator[Row]:
    idle = results.push["asyncio"]
    p50, p99 = median(pct(idle, 50)), median(pct(idle, 99))
    label = f"click -> resume p50 ({args.decisions:,} clicks, 1 per {args.interval_ms:g} ms, no other load)"
    yield Row(label, spread(pct(idle, 50), ms), "<= 0.5 ms", p50 <= 0.0005)
    yield Row("click -> resume p99, no other load", spread(pct(idle, 99), ms), "<= 2 ms", p99 <= 0.002)
    yield Row("  p90 / max", f"{ms(median(pct(idle, 90)))} / {ms(median(pct(idle, 100)))}")
    yield Row("  decide() round trip in B, p50", ms(median(percentile(p.round_trips, 50) for p in idle)))
    for name, label in (("uvloop", "uvloop in both processes"), ("python", "pure-Python parser (baseline)")):
        if name in results.push:
            pushes = results.push[name]
            yield Row(
                f"  the same, {label}: p50 / p99", f"{ms(median(pct(pushes, 50)))} / {ms(median(pct(pushes, 99)))}"
            )
    loaded = results.push.get("loaded", [])
    if loaded:
        p99 = median(pct(loaded, 99))
        label = (
            f"click -> resume p99, {args.other_waits} other waits pending, {args.model_runs} runs calling a model"
            f" (answers in {args.model_latency_ms:g} ms)"
        )
        yield Row(label, spread(pct(loaded, 99), ms), "<= 10 ms", p99 <= 0.010)
        yield Row("  p50 / model calls answered meanwhile", f"{ms(median(pct(loaded, 50)))} / {results.model_calls:,}")
    stress = results.push.get("stress", [])
    if stress:
        label = "  the same with a model that answers at once (runs call it back to back): p50 / p99"
        yield Row(label, f"{ms(median(pct(stress, 50)))} / {ms(median(pct(stress, 99)))}")
        yield Row("    model calls answered meanwhile", f"{results.stress_calls:,}")
    approved = sum(p.approved for pushes in results.push.values() for p in pushes)
    total = sum(p.n for pushes in results.push.values() for p in pushes)
    yield Row(
        "  waits resumed with 'approved' (every click phase)", f"{approved:,}/{total:,}", "all", approved == total
    )
    for every_s, delays in results.polls.items():
        label = f"poll every {every_s:g} s ({len(delays)} waiters): detection p50 / p99"
        yield Row(label, f"{percentile(delays, 50):.3f} s / {percentile(delays, 99):.3f} s")
        yield Row(f"  ratio poll p50 / push p50 ({every_s:g} s)", f"{percentile(delays, 50) / p50:,.0f}x")


def load_rows(results: Results, args: argparse.Namespace) -> Iterator[Row]:
    default = results.loads["asyncio"]
    first = default[0]
    per_wait = (first.rss_kb_pending - first.rss_kb_before) / first.n  # the run's first phase: no memory reused
    held, peak = max(load.held for load in default), max(load.peak for load in default)
    yield Row(f"Redis connections, {first.n:,} waits pending", str(held), "<= 10", held <= 10)
    yield Row("  peak connections, setup to last resume", str(peak), "<= 10", peak <= 10)
    yield Row("memory per pending wait (VmRSS)", f"{per_wait:.2f} KB", "<= 5 KB", per_wait <= 5)
    yield Row(
        f"  create {first.n:,} approvals (8 concurrent) / park the waits",
        f"{first.create_s:.2f} s / {first.park_s:.2f} s",
    )
    rate = median(load.rate for load in default)
    label = (
        f"all {first.n:,} resolved, TRANSITION pipelined 200 per round trip, {args.lanes} pipelines in flight,"
        " per waiting process"
    )
    yield Row(label, spread([load.rate for load in default], lambda r: f"{r:,.0f}/s"), ">= 20,000/s", rate >= 20_000)
    yield Row("  first decision -> last wait() returns", f"{median(load.resolve_s for load in default):.3f} s")
    burst_p50 = median(percentile(load.latencies, 50) for load in default)
    burst_p99 = median(percentile(load.latencies, 99) for load in default)
    yield Row("  click -> resume p50 / p99 in the burst", f"{ms(burst_p50)} / {ms(burst_p99)}")
    cpu = " / ".join(
        f"{median(getattr(load, attr) for load in default) / first.n * 1e6:.1f}"
        for attr in ("waiter_cpu_s", "clicker_cpu_s", "redis_cpu_s")
    )
    yield Row("  CPU per decision, us: waiting process / deciding process / redis-server", cpu)
    yield Row(
        "  redis-server time per TRANSITION (INFO commandstats)",
        f"{median(load.transition_us for load in default):.1f} us",
    )
    for name, label in (
        ("uvloop", "uvloop in both processes"),
        ("python", "pure-Python parser and packer (baseline)"),
        ("one-lane", "one pipeline in flight (the deciding process is the limit)"),
    ):
        if name in results.loads:
            loads = results.loads[name]
            yield Row(f"  the same, {label}", spread([load.rate for load in loads], lambda r: f"{r:,.0f}/s"))
            cpu = median(load.waiter_cpu_s / load.n * 1e6 for load in loads)
            yield Row(f"    CPU per decision in the waiting process, {name}", f"{cpu:.1f} us")
    loads = [load for loads in results.loads.values() for load in loads]
    approved, total = sum(load.approved for load in loads), sum(load.n for load in loads)
    yield Row(
        "  waits resumed with 'approved' (every pipelined phase)", f"{approved:,}/{total:,}", "all", approved == total
    )
    if results.burst is not None:
        burst = results.burst
        yield Row(f"all {burst.n:,} resolved, {burst.how} (one clicker process: the limit)", f"{burst.rate:,.0f}/s")
        yield Row(
            "  waits resumed with 'approved'", f"{burst.approved:,}/{burst.n:,}", "all", burst.approved == burst.n
        )


def benchmark(server: RedisServer, args: argparse.Namespace) -> list[Row]:
    """Each phase on a fresh event loop (so uvloop's rows share the run); click phases and pipelined loads are
    repeated ``args.repeats`` times and reported as medians."""
    rng = random.Random(args.seed)
    results = Results()
    loops = [loop for loop in LOOPS if loop == "asyncio" or uvloop is not None]
    with (
        server.client() as probe,
        ModelProcess(args.model_latency_ms) as model,
        ModelProcess(0) as instant,
    ):
        print(
            f"redis-server {probe.info('server')['redis_version']}, redis-py {redis.__version__}, "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, pool of {MAX_CONNECTIONS}, "
            f"hiredis {'yes' if HIREDIS_AVAILABLE else 'no'}, uvloop {'yes' if uvloop else 'no (rows skipped)'}, "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        interval = args.interval_ms / 1000
        for repeat in range(1, args.repeats + 1):
            print(f"repeat {repeat}/{args.repeats}", flush=True)
            for name, parser, loop, lanes in (
                ("asyncio", "default", "asyncio", args.lanes),
                ("uvloop", "default", "uvloop", args.lanes),
                ("python", "python", "asyncio", args.lanes),
                ("one-lane", "default", "asyncio", 1),
            ):
                if loop in loops:
                    print(f"  {args.waits:,} pending waits, pipelined TRANSITIONs, {name}", flush=True)
                    load = measure_load(server, probe, args.waits, args.concurrency, True, parser, loop, lanes)
                    results.add_load(name, run_on(loop, load))
                    probe.flushall()
            for loop in loops:
                print(f"  click -> resume, {args.decisions:,} clicks, {loop}", flush=True)
                results.add_push(
                    loop, run_on(loop, measure_push(server.url, probe, args.decisions, interval, loop=loop))
                )
                probe.flushall()
            print("  the same, pure-Python parser", flush=True)
            results.add_push(
                "python", run_on("asyncio", measure_push(server.url, probe, args.decisions, interval, "python"))
            )
            probe.flushall()
            for name, served in (("loaded", model), ("stress", instant)):
                latency = args.model_latency_ms if name == "loaded" else 0
                print(f"  {args.other_waits} waits pending, {args.model_runs} runs calling a model ({latency:g} ms)")
                loaded = busy_runs(served, args.other_waits, args.model_runs)
                push = measure_push(server.url, probe, args.loaded_decisions, interval * 2.5, load=loaded)
                results.add_push(name, run_on("asyncio", push))
                probe.flushall()
        results.model_calls = int(model.get("calls", 0))
        results.stress_calls = int(instant.get("calls", 0))
        print(
            f"baselines: polling, {args.poll_waiters} waiters per interval, decisions over {args.poll_window:g} s",
            flush=True,
        )
        results.polls = run_on(
            "asyncio", measure_polling(server.url, args.poll_waiters, args.poll_window, (1.0, 5.0), rng)
        )
        probe.flushall()
        print(f"  {args.waits:,} pending waits decided by {args.concurrency} concurrent decide() calls", flush=True)
        results.burst = run_on("asyncio", measure_load(server, probe, args.waits, args.concurrency, False))
        probe.flushall()
    return [*push_rows(results, args), *load_rows(results, args)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--decisions", type=int, default=1000, help="click -> resume samples (default 1000)")
    parser.add_argument("--interval-ms", type=float, default=2.0, help="time between clicks (default 2)")
    parser.add_argument("--loaded-decisions", type=int, default=400, help="click -> resume samples under load")
    parser.add_argument("--other-waits", type=int, default=50, help="other waits pending in the loaded case")
    parser.add_argument("--model-runs", type=int, default=10, help="runs calling the model in the loaded case")
    parser.add_argument("--waits", type=int, default=10_000, help="concurrent pending waits (default 10000)")
    parser.add_argument("--concurrency", type=int, default=8, help="decide() calls in flight in the burst")
    parser.add_argument("--lanes", type=int, default=2, help="pipelines in flight from the deciding process")
    parser.add_argument("--poll-waiters", type=int, default=100, help="polling waiters per interval")
    parser.add_argument("--poll-window", type=float, default=5.0, help="seconds over which polled ones are decided")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the click and pipelined phases (medians)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 300 decisions, 2,000 waits, 40 pollers")
    parser.add_argument("--clicker", metavar="URL", help=argparse.SUPPRESS)  # process B; plan on stdin
    parser.add_argument("--model-latency-ms", type=float, default=50.0, help="the scripted model's answer time")
    parser.add_argument("--model-server", metavar="LATENCY_MS", type=float, help=argparse.SUPPRESS)
    if parser.parse_known_args(argv)[0].quick:  # smaller defaults; explicit flags still win
        parser.set_defaults(
            decisions=300, loaded_decisions=150, waits=2000, poll_waiters=40, poll_window=2.0, repeats=1
        )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.clicker:
        plan = json.load(sys.stdin)
        print(json.dumps(run_on(str(plan.get("loop", "asyncio")), click(args.clicker, plan))))
        return 0
    if args.model_server is not None:
        asyncio.run(serve_model(args.model_server))
        return 0
    server = RedisServer()
    server.start()
    started = time.monotonic()
    try:
        lines = benchmark(server, args)
    finally:
        server.close()
    print_report(lines, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
