"""Calls re-sent by redis-py after a stall answer as the first did; calls bounded by the caller end on time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import fakeredis
import pytest

from bot.approvals import Approval, Outcome, State, claim_delivery
from bot.approvals.audit import read_audit
from bot.approvals.connection import connect
from tests.engine import ask, close_store, open_store
from tests.redis_server import RedisServer

SOCKET_TIMEOUT_S = 0.5
STALL_S = 1.2
"""Longer than the socket timeout, so redis-py gives up on the reply and re-sends; shorter than its retries last."""


@pytest.fixture
def server(make_redis_server) -> RedisServer:  # type: ignore[no-untyped-def]
    made: RedisServer = make_redis_server(appendonly=False)
    return made


@pytest.fixture
async def redis(server: RedisServer) -> AsyncIterator[object]:
    client = connect(server.url, socket_timeout_s=SOCKET_TIMEOUT_S)
    yield client
    server.resume()
    await client.aclose()


async def stall_for(server: RedisServer, seconds: float) -> None:
    server.stall()
    try:
        await asyncio.sleep(seconds)  # the stall's length is the subject
    finally:
        server.resume()


async def test_a_decision_resent_after_a_stall_is_answered_as_won(server: RedisServer) -> None:
    store = await open_store(server.url, socket_timeout_s=SOCKET_TIMEOUT_S)
    reported: list[Approval] = []

    async def report(approval: Approval) -> None:
        reported.append(approval)

    store.on_transition(report)
    warm_up, approval = await ask(store, step=0), await ask(store, step=1)
    await store.decide(warm_up.id, Outcome.CANCELLED, "U0BOB45678")  # the script is cached before the stall
    reported.clear()

    server.stall()
    deciding = asyncio.create_task(store.decide(approval.id, Outcome.APPROVED, "U0ALICE123"))
    await stall_for(server, STALL_S)
    decided = await asyncio.wait_for(deciding, 10)

    assert (decided.state, decided.decider) == (State.APPROVED, "U0ALICE123")
    assert [a.id for a in reported] == [approval.id]  # the card is updated once, by the winner
    events = [e.event for e in await read_audit(store.redis) if e.approval_id == approval.id]
    assert events == ["created", "approved"]
    await close_store(store)


async def test_a_retried_decision_with_the_same_nonce_returns_the_decided_record(store) -> None:  # type: ignore[no-untyped-def]
    approval = await ask(store)

    first = await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123", nonce="click-1")
    again = await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123", nonce="click-1")

    assert again == first
    with pytest.raises(Exception, match="already approved"):
        await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123", nonce="click-2")


async def test_a_delivery_claim_resent_after_a_stall_still_claims_it(server: RedisServer, redis) -> None:  # type: ignore[no-untyped-def]
    assert await claim_delivery(redis, "warm-up", 60)  # the script is cached before the stall

    server.stall()
    claiming = asyncio.create_task(claim_delivery(redis, "Ev0FIRST", 60))
    await stall_for(server, STALL_S)

    assert await asyncio.wait_for(claiming, 10) is True  # the first delivery is handled, not dropped
    assert await claim_delivery(redis, "Ev0FIRST", 60) is False  # a real redelivery is dropped


async def test_a_delivery_is_claimed_once_across_replicas(redis_url: str) -> None:
    replicas = [connect(redis_url) for _ in range(3)]

    claims = await asyncio.gather(*(claim_delivery(r, "Ev0SAME", 60) for r in replicas for _ in range(5)))

    assert sorted(claims) == [False] * 14 + [True]
    assert 0 < await replicas[0].ttl("appr:seen:Ev0SAME") <= 60
    for replica in replicas:
        await replica.aclose()


async def test_a_delivery_claim_works_on_fakeredis() -> None:
    redis = fakeredis.aioredis.FakeRedis(decode_responses=True)

    assert await claim_delivery(redis, "Ev0DEMO", 60, nonce="n1") is True
    assert await claim_delivery(redis, "Ev0DEMO", 60, nonce="n1") is True  # the same call, retried
    assert await claim_delivery(redis, "Ev0DEMO", 60, nonce="n2") is False
    await redis.aclose()


async def test_a_call_bounded_by_the_caller_ends_on_time_during_a_stall_and_the_store_recovers(
    server: RedisServer,
) -> None:
    store = await open_store(server.url)  # the default socket timeout (5 s) is longer than the caller's bound
    approval = await ask(store)

    server.stall()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1):
            await store.get(approval.id)
    elapsed = time.monotonic() - started
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1):
            await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123", nonce="click-1")
    server.resume()

    assert 0.9 <= elapsed < 1.5
    async with asyncio.timeout(2):
        found = await store.get(approval.id)
        # the click is retried with its nonce: recorded once, whether or not the first try ran after the resume
        decided = await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123", nonce="click-1")
        assert await store.find_by_message("C0NONE", "1.2") is None
        assert (await ask(store, step=1)).state is State.PENDING
    assert found is not None and found.id == approval.id
    assert (decided.state, decided.decider) == (State.APPROVED, "U0ALICE123")
    await close_store(store)
