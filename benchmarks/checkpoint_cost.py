"""Checkpoint cost per human step of a durable run: bytes in Redis and milliseconds, for a 20-turn conversation.

A durable run checkpoints at each human step (``bot/runner.py``, ``bot/durable/recording.py``, ``bot/bridge.py``):
the model's answer that led to the step (``RunStore.record_answer``: AutoGen's ``CreateResult`` as JSON, appended
to the run's answer list, fenced, after a look-up of an answer recorded before) and the step with the workflow's
state there (``RunStore.record_step``: the drafter's ``save_state()`` as JSON, fenced), before the card is posted.

Method: the real ``draft`` workflow (AutoGen's ``AssistantAgent`` and the approval gate in a team) runs a
``--turns`` conversation in this process: its model is AutoGen's ``ReplayChatCompletionClient`` behind the
recording client, on a run enqueued and leased as a worker does; its human asks for a revision at every step but
the last, which it approves, and records each checkpoint as a durable run's input function does. ``redis-server``
is real, with append-only persistence as ``docker-compose.yml`` runs it (``appendfsync everysec``;
``--appendfsync`` changes it), and the client is the engine's own (``bot.approvals.connection.connect``). Each
draft is a new one of about ``--draft-chars`` characters, so the state grows with every turn.

Per step, timed around the calls only (the team's own work between them is not counted): ``record_answer`` +
``record_step``; the bytes sent, what the run's keys hold in Redis at the end (``MEMORY USAGE``) and what the
append-only file grows by (``INFO persistence``, read before and after each call). Baseline, in the same run,
right after each checkpoint: a bare ``SET`` of the same bytes (answer and state) to one key. The table shows
medians of ``--repeats`` of ``--conversations`` conversations each.

Run from the repository root (about 20 s)::

    python benchmarks/checkpoint_cost.py
    python benchmarks/checkpoint_cost.py --turns 50 --draft-chars 4000 --appendfsync always

It prints each figure next to its target and exits 0 even when a target is missed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from autogen_core import CancellationToken
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import Row, percentile, print_report
from benchmarks.rig import machine
from bot.approvals.connection import connect
from bot.durable.recording import RecordingClient
from bot.durable.store import Lease, RunStore, model_key, run_key
from bot.runs import RunRequest
from tests.redis_server import RedisServer
from workflows.draft import DraftWorkflow
from workflows.types import Verdict

TARGET_MS = 5.0
"""The issue's target: a checkpoint costs at most 5 ms per human step."""
WORDS = ["launch", "billing", "page", "Monday", "customers", "invoices", "pricing", "rollout", "support", "team"]
T = TypeVar("T")


def drafts(turns: int, chars: int) -> list[CreateResult]:
    """The model's answers of one conversation: a new draft at every turn."""
    answers = []
    for turn in range(turns):
        body = " ".join(WORDS[(turn + i * 7) % len(WORDS)] for i in range(chars // 7))[:chars]
        usage = RequestUsage(prompt_tokens=60 + turn * (chars // 5), completion_tokens=chars // 5)
        content = f"Subject: Q3 launch (draft {turn + 1})\n\n{body}"
        answers.append(CreateResult(finish_reason="stop", content=content, usage=usage, cached=False))
    return answers


@dataclass
class Repeat:
    checkpoint_ms: list[float] = field(default_factory=list)
    """record_answer + record_step, per step."""
    lookup_ms: list[float] = field(default_factory=list)
    """The look-up of a recorded answer before each model call (what makes a resumed run replay)."""
    set_ms: list[float] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    """Payload bytes of each step (answer JSON and state JSON)."""
    aof: list[int] = field(default_factory=list)
    set_aof: list[int] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)
    """MEMORY USAGE of each run's keys after its last step, per step."""


class Probe:
    """Times one Redis call and reads the append-only file's growth around it."""

    def __init__(self, redis: aioredis.Redis, aof: bool) -> None:
        self.redis, self.aof = redis, aof

    async def size(self) -> int:
        info: dict[str, Any] = await self.redis.info("persistence") if self.aof else {}
        return int(info.get("aof_current_size", 0))

    async def __call__(self, call: Awaitable[T]) -> tuple[T, float, int]:
        before = await self.size()
        started = time.perf_counter()
        value = await call
        elapsed = (time.perf_counter() - started) * 1000
        return value, elapsed, await self.size() - before


class TimedRuns(RunStore):
    """The real run store; the calls a run makes at each human step are timed (``last`` keeps the answer's)."""

    def __init__(self, redis: aioredis.Redis, probe: Probe, result: Repeat) -> None:
        super().__init__(redis, retention_s=7 * 24 * 3600.0, lease_s=15.0)
        self.probe, self.result = probe, result
        self.last: tuple[float, int, str] = (0.0, 0, "")
        """The last record_answer's ms, append-only growth and answer."""

    async def recorded_answer(self, workflow_id: str, index: int) -> str | None:
        found, ms, _ = await self.probe(super().recorded_answer(workflow_id, index))
        self.result.lookup_ms.append(ms)
        return found

    async def record_answer(self, lease: Lease, index: int, answer: str) -> str:
        standing, ms, grown = await self.probe(super().record_answer(lease, index, answer))
        self.last = (ms, grown, answer)
        return standing


class Reviewer:
    """The conversation's human: asks for a revision at every step but the last, which it approves. It takes the
    workflow's checkpoint as a durable run's input function does (``ApprovalInput.checkpoint``: compact JSON) and
    records it with the step before it would post the card (``WorkflowRunner``'s ``before_post``)."""

    def __init__(self, runs: TimedRuns, lease: Lease, turns: int) -> None:
        self.runs, self.lease, self.turns = runs, lease, turns
        self.step = 0

    async def checkpoint(self, state: Mapping[str, Any]) -> None:
        self.step += 1
        text = json.dumps(state, separators=(",", ":"), default=str)
        runs, result = self.runs, self.runs.result
        _, step_ms, step_aof = await runs.probe(runs.record_step(self.lease, self.step, text))
        answer_ms, answer_aof, answer = runs.last
        result.checkpoint_ms.append(answer_ms + step_ms)
        result.aof.append(answer_aof + step_aof)
        same = answer + text
        result.sent.append(len(same.encode()))
        _, set_ms, set_aof = await runs.probe(runs.redis.set(f"bench:set:{self.lease.workflow_id}", same))
        result.set_ms.append(set_ms)
        result.set_aof.append(set_aof)

    async def __call__(self, prompt: str, token: CancellationToken | None) -> str:
        return (
            Verdict.APPROVE.value if self.step >= self.turns else f"REVISE: shorter, and mention #billing {self.step}"
        )


async def conversation(runs: TimedRuns, args: argparse.Namespace) -> None:
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    request = RunRequest(workflow_id, "draft", "Announce the Q3 launch", "U0ALICE01", "C0GENERAL", "", 1)
    await runs.enqueue(request)
    lease = await runs.acquire(workflow_id, "worker-bench", "0-0")
    if isinstance(lease, str):
        raise RuntimeError(f"no lease on a fresh run: {lease}")
    answers = drafts(args.turns, args.draft_chars)
    workflow = DraftWorkflow(
        lambda: RecordingClient(ReplayChatCompletionClient(answers), runs, lease), max_revisions=args.turns
    )
    human = Reviewer(runs, lease, args.turns)
    result = await workflow.run(request.task, human)
    if result.verdict is not Verdict.APPROVE or human.step != args.turns:
        raise RuntimeError(f"the conversation ended at step {human.step}: {result.verdict} {result.detail}")
    held = [await runs.redis.memory_usage(key, samples=0) for key in (run_key(workflow_id), model_key(workflow_id))]
    runs.result.memory.append(sum(int(n or 0) for n in held) // args.turns)


async def benchmark(args: argparse.Namespace) -> list[Repeat]:
    server = RedisServer(appendonly=args.appendfsync != "off", appendfsync=args.fsync)
    server.start()
    redis = connect(server.url)
    try:
        await redis.config_set("auto-aof-rewrite-percentage", 0)  # a rewrite would shrink the file mid-measure
        probe = Probe(redis, args.appendfsync != "off")
        await conversation(TimedRuns(redis, probe, Repeat()), args)  # warm-up: scripts loaded, pool filled
        results = []
        for k in range(args.repeats):
            results.append(Repeat())
            runs = TimedRuns(redis, probe, results[-1])
            for _ in range(args.conversations):
                await conversation(runs, args)
            step = percentile(results[-1].checkpoint_ms, 50)
            print(f"repeat {k + 1}/{args.repeats}: checkpoint p50 {step:.3f} ms", flush=True)
        return results
    finally:
        await redis.aclose()
        server.close()


def median(results: Sequence[Repeat], figure: Callable[[Repeat], float]) -> float:
    return statistics.median(figure(r) for r in results)


def pct(attr: str, q: float) -> Callable[[Repeat], float]:
    return lambda repeat: percentile(getattr(repeat, attr), q)


def mean(attr: str) -> Callable[[Repeat], float]:
    return lambda repeat: statistics.mean(getattr(repeat, attr))


def rows(results: Sequence[Repeat], args: argparse.Namespace) -> Iterator[Row]:
    of = f"{args.conversations} x {args.turns} steps, median of {args.repeats}"
    persistence = "off" if args.appendfsync == "off" else f"append-only, appendfsync {args.appendfsync}"
    yield Row("redis-server persistence", persistence)
    for q in (50, 99):
        ours, bare = median(results, pct("checkpoint_ms", q)), median(results, pct("set_ms", q))
        label = f"checkpoint per step (record_answer + record_step), p{q}, {of}"
        yield Row(label, f"{ours:.3f} ms", f"<= {TARGET_MS:g} ms", ours <= TARGET_MS)
        yield Row(f"  baseline: bare SET of the same bytes, p{q}", f"{bare:.3f} ms")
    lookup = median(results, pct("lookup_ms", 50))
    yield Row("  plus the look-up of a recorded answer before each model call, p50", f"{lookup:.3f} ms")
    yield Row("bytes sent per step (answer + state JSON), mean", f"{median(results, mean('sent')):,.0f} B")
    first, last = median(results, lambda r: r.sent[0]), median(results, lambda r: r.sent[-1])
    yield Row(f"  at step 1 / at step {args.turns} (the state holds the conversation)", f"{first:,.0f} / {last:,.0f} B")
    held = median(results, mean("memory"))
    yield Row("Redis memory per step (the run's keys after its last step)", f"{held:,.0f} B")
    yield Row(f"  a {args.turns}-step run's keys in all", f"{held * args.turns / 1024:,.1f} KB")
    if args.appendfsync != "off":
        yield Row("append-only file per step, mean", f"{median(results, mean('aof')):,.0f} B")
        yield Row("  baseline: bare SET of the same bytes", f"{median(results, mean('set_aof')):,.0f} B")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=20, help="human steps per conversation (default 20)")
    parser.add_argument("--draft-chars", type=int, default=1000, help="characters per draft (default 1000)")
    parser.add_argument("--conversations", type=int, default=20, help="conversations per repeat (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats; medians shown (default 5)")
    parser.add_argument(
        "--appendfsync",
        choices=["everysec", "always", "no", "off"],
        default="everysec",
        help="redis-server's appendfsync; 'off' runs without the append-only file (default everysec)",
    )
    args = parser.parse_args(argv)
    args.fsync = "everysec" if args.appendfsync == "off" else args.appendfsync
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine(), flush=True)
    started = time.monotonic()
    results = asyncio.run(benchmark(args))
    lines = list(rows(results, args))
    print_report(lines, started, load=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
