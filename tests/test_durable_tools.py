"""Tool calls of a durable run, against a real Redis: a recorded result is replayed, never re-run; a call that was
running when its worker stopped is run again only when a person says so; a fenced-off worker runs nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from autogen_core import CancellationToken
from autogen_core.tools import FunctionTool

from bot.approvals.connection import connect
from bot.durable.store import Lease, LeaseLost, RunStore
from bot.durable.tools import ToolFailed, ToolRecorder
from bot.runs import RunRequest
from tests.conditions import until
from workflows.types import Tool

LEASE_S = 0.3


class Human:
    """An input function that answers from a list and remembers what it was asked."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.asked: list[str] = []

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        self.asked.append(prompt)
        return self.replies.pop(0)


class Counter:
    """A tool with an effect the test can count; ``block`` makes a call hang until the test lets it go."""

    def __init__(self) -> None:
        self.runs = 0
        self.block: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def charge(self, customer: int, cents: int) -> str:
        self.runs += 1
        self.started.set()
        if self.block is not None:
            await self.block.wait()
        return f"charged customer {customer} {cents} cents"

    def tool(self) -> Tool:
        return FunctionTool(self.charge, "Charge a customer.")


@pytest.fixture
async def runs(redis_url: str) -> AsyncIterator[RunStore]:
    redis = connect(redis_url)
    store = RunStore(redis, retention_s=60, lease_s=LEASE_S)
    await store.ensure_group()
    yield store
    await redis.aclose()


async def lease_of(runs: RunStore, worker: str, workflow_id: str = "wf-tools1") -> Lease:
    await runs.enqueue(RunRequest(workflow_id, "ops", "Charge Ada", "U0ALICE123"))
    entries = await runs.next_entries(worker, 1, 100)
    entry_id = entries[0][0] if entries else "0-0"
    lease = await runs.acquire(workflow_id, worker, entry_id)
    assert isinstance(lease, Lease)
    return lease


async def take_over(runs: RunStore, old: Lease, worker: str) -> Lease:
    """Another worker takes the run once the old lease has lapsed (a worker that died)."""
    taken: list[Lease] = []

    async def acquired() -> bool:
        got = await runs.acquire(old.workflow_id, worker, old.entry_id)
        taken.extend([got] if isinstance(got, Lease) else [])
        return bool(taken)

    await until(acquired, timeout=5)
    return taken[0]


def never_lost() -> None:
    raise AssertionError("the lease was not lost")


ARGS = {"customer": 7, "cents": 1250}


async def test_a_recorded_result_is_replayed_and_the_tool_not_run_again(runs: RunStore) -> None:
    counter = Counter()
    first = await lease_of(runs, "w1")
    live = ToolRecorder(runs, first, Human(), never_lost)(counter.tool())
    assert await live.run_json(ARGS, CancellationToken(), call_id="call_a") == "charged customer 7 1250 cents"

    resumed = ToolRecorder(runs, await take_over(runs, first, "w2"), Human(), never_lost)
    again = await resumed(counter.tool()).run_json(ARGS, CancellationToken(), call_id="call_a")

    assert again == "charged customer 7 1250 cents" and counter.runs == 1 and resumed.replayed == 1
    other = await resumed(counter.tool()).run_json(ARGS, CancellationToken(), call_id="call_b")
    assert other == "charged customer 7 1250 cents" and counter.runs == 2  # another call id is another call


async def started_then_died(runs: RunStore, counter: Counter) -> Lease:
    """A call that starts, and whose worker stops before it has a result."""
    lease = await lease_of(runs, "w1")
    counter.block = asyncio.Event()
    call = asyncio.create_task(
        ToolRecorder(runs, lease, Human(), never_lost)(counter.tool()).run_json(ARGS, CancellationToken(), "call_a")
    )
    await counter.started.wait()
    call.cancel()  # the worker is gone: nothing more of it is recorded
    with pytest.raises(asyncio.CancelledError):
        await call
    counter.block = None
    return lease


async def test_a_call_running_when_its_worker_died_is_not_run_again_when_the_person_declines(runs: RunStore) -> None:
    counter = Counter()
    lease = await started_then_died(runs, counter)

    human = Human("CANCEL: cancelled by U0BOB45678")
    resumed = ToolRecorder(runs, await take_over(runs, lease, "w2"), human, never_lost)
    result = await resumed(counter.tool()).run_json(ARGS, CancellationToken(), call_id="call_a")

    assert counter.runs == 1  # only the attempt that was running when the worker died
    assert result.startswith("Not run") and "may have run" in result
    [asked] = human.asked
    assert "restarted while it was running the tool `charge`" in asked and '"cents": 1250' in asked


async def test_a_call_running_when_its_worker_died_runs_again_once_approved_and_replays_after(
    runs: RunStore,
) -> None:
    counter = Counter()
    lease = await started_then_died(runs, counter)

    second = await take_over(runs, lease, "w2")
    human = Human("APPROVE")
    result = await ToolRecorder(runs, second, human, never_lost)(counter.tool()).run_json(
        ARGS, CancellationToken(), "call_a"
    )
    assert result == "charged customer 7 1250 cents" and counter.runs == 2 and len(human.asked) == 1

    # Resumed once more (a third worker): the same question is replayed (its step re-attaches to the decided
    # approval in a real run), then the recorded result: the tool does not run a third time.
    third = await take_over(runs, second, "w3")
    replay = Human("APPROVE")
    again = await ToolRecorder(runs, third, replay, never_lost)(counter.tool()).run_json(
        ARGS, CancellationToken(), "call_a"
    )
    assert again == result and counter.runs == 2 and replay.asked == human.asked


async def test_a_worker_that_lost_its_lease_runs_no_tool(runs: RunStore) -> None:
    counter = Counter()
    old = await lease_of(runs, "w1")
    await take_over(runs, old, "w2")
    lost: list[bool] = []

    with pytest.raises(LeaseLost):
        await ToolRecorder(runs, old, Human(), lambda: lost.append(True))(counter.tool()).run_json(
            ARGS, CancellationToken(), "call_a"
        )

    assert counter.runs == 0 and lost == [True]


async def test_a_tool_error_is_recorded_and_replayed_as_the_same_error(runs: RunStore) -> None:
    calls = 0

    async def refund(order: str) -> str:
        nonlocal calls
        calls += 1
        raise ValueError(f"order {order} was never charged")

    tool = FunctionTool(refund, "Refund an order.")
    first = await lease_of(runs, "w1")
    with pytest.raises(ToolFailed, match="order A-1 was never charged"):
        await ToolRecorder(runs, first, Human(), never_lost)(tool).run_json({"order": "A-1"}, CancellationToken(), "c")
    second = await take_over(runs, first, "w2")
    with pytest.raises(ToolFailed, match="order A-1 was never charged"):
        await ToolRecorder(runs, second, Human(), never_lost)(tool).run_json({"order": "A-1"}, CancellationToken(), "c")
    assert calls == 1
