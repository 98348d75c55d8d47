"""Runs as durable jobs against a real Redis: one lease at a time, fencing, takeover, done is done, replay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from autogen_core.models import CreateResult, UserMessage

from bot.approvals.connection import connect
from bot.durable.recording import RecordingClient
from bot.durable.store import QUEUE, Lease, LeaseLost, RunStore
from bot.runs import RunRequest
from tests.conditions import until
from workflows.model import model_factory, replay_config

LEASE_S = 0.3


@pytest.fixture
async def runs(redis_url: str) -> AsyncIterator[RunStore]:
    redis = connect(redis_url)
    store = RunStore(redis, retention_s=60, lease_s=LEASE_S)
    await store.ensure_group()
    yield store
    await redis.aclose()


def request(workflow_id: str = "wf-durable1") -> RunRequest:
    return RunRequest(workflow_id, "draft", "Announce the launch", "U0ALICE123", "C0GENERAL1", "", 0)


async def take(runs: RunStore, worker: str) -> Lease | str:
    [(entry_id, workflow_id)] = await runs.next_entries(worker, 1, 100)
    return await runs.acquire(workflow_id, worker, entry_id)


async def test_a_run_is_queued_once_and_held_by_one_worker(runs: RunStore) -> None:
    assert await runs.enqueue(request())
    assert not await runs.enqueue(request())  # the same run id queues nothing more

    lease = await take(runs, "w1")
    assert isinstance(lease, Lease) and lease.fence == 1 and not lease.resumed
    assert await runs.acquire(lease.workflow_id, "w2", lease.entry_id) == "held"
    assert await runs.redis.xlen(QUEUE) == 1


async def test_a_lapsed_lease_is_taken_over_and_the_old_holder_is_fenced_off(runs: RunStore) -> None:
    await runs.enqueue(request())
    old = await take(runs, "w1")
    assert isinstance(old, Lease)
    await runs.record_answer(old, 0, '{"first": true}')

    new = await _take_over(runs, "w2")

    assert new.fence == 2 and new.resumed
    assert new.request == request()  # what was asked travels with the run
    with pytest.raises(LeaseLost):
        await runs.record_answer(old, 1, '{"late": true}')
    with pytest.raises(LeaseLost):
        await runs.record_step(old, 2)
    assert not await runs.renew(old, "w1")
    assert not await runs.finish(old, {"status": "approved"})
    assert await runs.record_answer(new, 0, '{"other": true}') == '{"first": true}'  # the recorded one stands


async def test_a_finished_run_is_never_executed_again(runs: RunStore) -> None:
    await runs.enqueue(request())
    lease = await take(runs, "w1")
    assert isinstance(lease, Lease)

    assert await runs.finish(lease, {"status": "approved"})

    assert await runs.acquire(lease.workflow_id, "w2", lease.entry_id) == "done"
    assert await runs.redis.xpending(QUEUE, "workers") == {"pending": 0, "min": None, "max": None, "consumers": []}


async def test_a_released_run_is_taken_at_once_by_another_worker(runs: RunStore) -> None:
    await runs.enqueue(request())
    lease = await take(runs, "w1")
    assert isinstance(lease, Lease)

    assert await runs.release(lease, "w1")  # a shutdown gives it back

    again = await take(runs, "w2")  # a new queue entry: no waiting for the lease to lapse
    assert isinstance(again, Lease) and again.fence == 2 and again.resumed


async def test_renewal_keeps_the_run_from_being_taken_over(runs: RunStore) -> None:
    await runs.enqueue(request())
    lease = await take(runs, "w1")
    assert isinstance(lease, Lease)
    [(entry_id, workflow_id)] = await _idle(runs, "w2")  # idle in the queue, but its holder renews:

    assert await runs.renew(lease, "w1")
    assert await runs.acquire(workflow_id, "w2", entry_id) == "held"


async def test_a_resumed_run_replays_its_recorded_answers_and_asks_the_model_only_for_new_ones(
    runs: RunStore,
) -> None:
    await runs.enqueue(request())
    first = await take(runs, "w1")
    assert isinstance(first, Lease)
    before = RecordingClient((await model_factory(replay_config(["draft one", "draft two"])))(), runs, first)
    said = await before.create([UserMessage(content="Announce", source="user")])
    assert said.content == "draft one"

    second = await _take_over(runs, "w2")  # w1 died
    workflow_id = second.workflow_id
    # a model that would answer differently now: what it said before is what the resumed run hears
    after = RecordingClient((await model_factory(replay_config(["something else", "draft two"])))(), runs, second)
    replayed = await after.create([UserMessage(content="Announce", source="user")])
    fresh = await after.create([UserMessage(content="Announce", source="user")])

    assert isinstance(replayed, CreateResult) and replayed.content == "draft one" and after.replayed == 1
    assert fresh.content == "something else"  # the model's own next answer (the replay client starts over)
    assert await runs.recorded_answer(workflow_id, 1) is not None


async def _take_over(runs: RunStore, worker: str) -> Lease:
    """The lease of the one run, once its holder's has lapsed. The queue entry can look idle a moment before the
    lease (set just after the entry was delivered) lapses: then it is still held, and taken at a later look."""
    taken: list[Lease] = []

    async def lapsed() -> bool:
        for entry_id, workflow_id in await _idle(runs, worker):
            got = await runs.acquire(workflow_id, worker, entry_id)
            if isinstance(got, Lease):
                taken.append(got)
        return bool(taken)

    await until(lapsed, timeout=5)
    return taken[0]


async def _idle(runs: RunStore, worker: str) -> list[tuple[str, str]]:
    """The queue entries idle for a lease, once there are some (the test's lease is short)."""
    found: list[tuple[str, str]] = []

    async def some() -> bool:
        found[:] = await runs.idle_entries(worker, 10)
        return bool(found)

    await until(some, timeout=5)
    return found


async def test_a_step_is_checkpointed_with_its_state_and_a_fenced_worker_cannot_overwrite_it(runs: RunStore) -> None:
    await runs.enqueue(request())
    old = await take(runs, "w1")
    assert isinstance(old, Lease)
    await runs.record_step(old, 1, '{"drafter": {"turns": 1}}')
    new = await _take_over(runs, "w2")

    with pytest.raises(LeaseLost):
        await runs.record_step(old, 2, '{"drafter": {"turns": 99}}')
    assert await runs.checkpoint(new.workflow_id) == (1, '{"drafter": {"turns": 1}}')
    await runs.record_step(new, 2, '{"drafter": {"turns": 2}}')
    assert await runs.checkpoint(new.workflow_id) == (2, '{"drafter": {"turns": 2}}')
