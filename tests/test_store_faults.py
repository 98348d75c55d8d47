"""The engine through Redis faults: dropped pub/sub, restarts with and without persistence, process restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from bot.approvals import Approval, ApprovalKey, ApprovalStore, Outcome, State, UnknownApproval
from tests.conditions import waiting
from tests.engine import close_store, open_store
from tests.redis_server import RedisServer


@pytest.fixture
async def stores() -> AsyncIterator[Callable[[str], asyncio.Future[ApprovalStore]]]:
    opened: list[ApprovalStore] = []

    async def make(url: str) -> ApprovalStore:
        store = await open_store(url)
        opened.append(store)
        return store

    yield make  # type: ignore[misc]
    for store in opened:
        await close_store(store)


async def create_many(store: ApprovalStore, count: int, timeout_s: float = 120) -> list[Approval]:
    return [
        await store.create(
            ApprovalKey("wf", n), prompt=f"step {n}", requester="U0ALICE123", workflow="draft", timeout_s=timeout_s
        )
        for n in range(count)
    ]


async def test_decisions_made_while_pubsub_was_dropped_are_not_lost(redis_url: str, stores) -> None:
    waiter_store = await stores(redis_url)
    clicker = await stores(redis_url)
    approvals = await create_many(waiter_store, 50)
    waits = [asyncio.create_task(waiter_store.wait(a.id)) for a in approvals]
    await waiting(waiter_store, 50, 5)

    # Kill the subscriber's connection and decide everything before it can reconnect.
    killed = await clicker.redis.client_kill_filter(_type="pubsub")
    for approval in approvals:
        await clicker.decide(approval.id, Outcome.APPROVED, "U0BOB45678")

    decided = await asyncio.wait_for(asyncio.gather(*waits), 10)
    assert killed == 2  # the subscriber of each store
    assert [d.state for d in decided] == [State.APPROVED] * 50


async def test_redis_restart_with_persistence_loses_no_waiter(make_redis_server, stores) -> None:
    server: RedisServer = make_redis_server(appendonly=True)
    waiter_store = await stores(server.url)
    approvals = await create_many(waiter_store, 50)
    waits = [asyncio.create_task(waiter_store.wait(a.id)) for a in approvals]
    await waiting(waiter_store, 50, 5)

    await asyncio.to_thread(server.restart)
    clicker = await stores(server.url)
    for approval in approvals:
        await clicker.decide(approval.id, Outcome.APPROVED, "U0BOB45678")

    decided = await asyncio.wait_for(asyncio.gather(*waits), 15)
    assert [(d.id, d.state) for d in decided] == [(a.id, State.APPROVED) for a in approvals]


async def test_waiter_of_a_record_lost_in_a_restart_ends_with_unknown(make_redis_server, stores) -> None:
    server: RedisServer = make_redis_server(appendonly=False)
    waiter_store = await stores(server.url)
    [approval] = await create_many(waiter_store, 1)
    wait = asyncio.create_task(waiter_store.wait(approval.id))
    await waiting(waiter_store, 1, 5)

    await asyncio.to_thread(server.restart)  # no persistence: the record is gone

    with pytest.raises(UnknownApproval):
        await asyncio.wait_for(wait, 15)


async def test_waiters_survive_redis_being_down_for_a_while(make_redis_server, stores) -> None:
    server: RedisServer = make_redis_server(appendonly=True)
    waiter_store = await stores(server.url)
    approvals = await create_many(waiter_store, 5)
    waits = [asyncio.create_task(waiter_store.wait(a.id)) for a in approvals]
    await waiting(waiter_store, 5, 5)

    await asyncio.to_thread(server.stop)
    await asyncio.sleep(1.5)  # an outage of a noticeable length is the subject here
    assert not any(w.done() for w in waits)
    await asyncio.to_thread(server.start)
    clicker = await stores(server.url)
    for approval in approvals:
        await clicker.decide(approval.id, Outcome.CANCELLED, "U0BOB45678")

    decided = await asyncio.wait_for(asyncio.gather(*waits), 15)
    assert {d.state for d in decided} == {State.CANCELLED}


async def test_restarted_process_reattaches_to_its_approval_and_decision(redis_url: str, stores) -> None:
    before = await open_store(redis_url)
    key = ApprovalKey("wf-restart", 2)
    first = await before.create(key, prompt="deploy?", requester="U0ALICE123", workflow="plan", timeout_s=60)
    await close_store(before)  # the process dies while the approval is pending
    clicker = await stores(redis_url)
    await clicker.decide(first.id, Outcome.APPROVED, "U0BOB45678")  # decided while nobody waits

    after = await stores(redis_url)
    again = await after.create(key, prompt="deploy?", requester="U0ALICE123", workflow="plan", timeout_s=60)
    decided = await asyncio.wait_for(after.wait(again.id), 2)

    assert again.id == first.id and again.created_ms == first.created_ms
    assert (decided.state, decided.decider) == (State.APPROVED, "U0BOB45678")


async def test_every_acknowledged_decision_survives_redis_being_killed(make_redis_server, stores) -> None:
    # appendfsync everysec: Redis write()s the AOF before it replies, fsyncs once a second. A SIGKILL loses
    # nothing acknowledged (the kernel's page cache outlives the process); an OS crash could lose the last ~1-2 s.
    server: RedisServer = make_redis_server(appendonly=True, appendfsync="everysec")
    store = await stores(server.url)
    approvals = await create_many(store, 200)
    acknowledged = [await store.decide(a.id, Outcome.APPROVED, f"U{n:09d}") for n, a in enumerate(approvals)]

    await asyncio.to_thread(server.kill)
    await asyncio.to_thread(server.start)

    after = await stores(server.url)
    survived = [await after.get(a.id) for a in acknowledged]
    assert [(s.state, s.decider) for s in survived if s is not None] == [(a.state, a.decider) for a in acknowledged]
