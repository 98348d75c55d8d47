"""The subscriber through a connection that stays open but delivers nothing, and waits cut short by aclose()."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.approvals import Outcome, State, StoreClosed, StoreSettings, keys, scripts
from bot.approvals.deadlines import TIME_UP, Deadlines
from bot.approvals.transitions import new_nonce, transition_args, transition_keys
from tests.conditions import waiting
from tests.engine import ask, close_store, open_store
from tests.redis_server import RedisServer
from tests.tcp_proxy import TcpProxy


async def test_a_deaf_subscriber_reconnects_and_a_decision_made_meanwhile_wakes_the_waiter(
    redis_url: str, redis_server: RedisServer
) -> None:
    async with TcpProxy("127.0.0.1", redis_server.port) as proxy:
        waiter_store = await open_store(proxy.url())  # no maintenance: no periodic resync to fall back on
        clicker = await open_store(redis_url)
        approval = await ask(waiter_store)
        wait = asyncio.create_task(waiter_store.wait(approval.id))
        await waiting(waiter_store, 1)
        subscribers = await clicker.redis.client_list(_type="pubsub")
        [port] = {int(c["addr"].rsplit(":", 1)[1]) for c in subscribers} & proxy.upstream_ports()

        proxy.deafen(port)  # the socket stays open; what Redis sends on it never arrives
        await clicker.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
        started = time.monotonic()
        decided = await asyncio.wait_for(wait, 15)
        woken_after = time.monotonic() - started

        assert (decided.state, decided.decider) == (State.APPROVED, "U0BOB45678")
        assert woken_after < 5  # idle PING after 1.5 s, no answer within 2 s, reconnect, resync; not 30 s
        await close_store(waiter_store)
        await close_store(clicker)


async def test_closing_the_store_fails_a_wait_for_a_decision(store) -> None:  # type: ignore[no-untyped-def]
    approval = await ask(store)
    wait = asyncio.create_task(store.wait(approval.id))
    await waiting(store, 1)

    await store.aclose()

    with pytest.raises(StoreClosed):
        await asyncio.wait_for(wait, 2)
    with pytest.raises(StoreClosed):
        await store.wait(approval.id)


async def test_closing_the_store_fails_a_wait_whose_read_is_stuck_on_a_stalled_redis(make_redis_server) -> None:  # type: ignore[no-untyped-def]
    server: RedisServer = make_redis_server(appendonly=False)
    store = await open_store(server.url)
    approval = await ask(store)

    server.stall()
    try:
        wait = asyncio.create_task(store.wait(approval.id))  # its first read never gets an answer
        await waiting(store, 1)
        started = time.monotonic()
        await asyncio.wait_for(store.aclose(), 2)
        with pytest.raises(StoreClosed):
            await asyncio.wait_for(wait, 2)
        assert time.monotonic() - started < 2
    finally:
        server.resume()
    await store.redis.aclose()


async def test_closing_the_store_fails_a_wait_retrying_through_an_outage(make_redis_server) -> None:  # type: ignore[no-untyped-def]
    server: RedisServer = make_redis_server(appendonly=True)
    store = await open_store(server.url)
    approval = await ask(store)

    await asyncio.to_thread(server.stop)
    wait = asyncio.create_task(store.wait(approval.id))  # retries its first read with backoff
    await waiting(store, 1)
    await asyncio.wait_for(store.aclose(), 2)

    with pytest.raises(StoreClosed):
        await asyncio.wait_for(wait, 2)
    await store.redis.aclose()


async def test_a_burst_of_decisions_read_in_one_pass_wakes_each_waiter_with_its_own_decision(
    redis_url: str,
) -> None:
    waiter_store, clicker = await open_store(redis_url), await open_store(redis_url)
    approvals = [await ask(waiter_store, workflow_id=f"burst-{n}") for n in range(300)]
    waits = [asyncio.create_task(waiter_store.wait(a.id)) for a in approvals]
    await waiting(waiter_store, len(approvals))

    # One pipeline: the decisions reach the subscriber together, most of them already parsed from one socket read,
    # with a malformed message and a decision for nobody here among them.
    sha = await clicker.redis.script_load(scripts.TRANSITION)
    pipe = clicker.redis.pipeline(transaction=False)
    for n, approval in enumerate(approvals):
        if n == 150:
            pipe.publish(keys.DECIDED_CHANNEL, "not json")
            pipe.publish(keys.DECIDED_CHANNEL, '{"id": "elsewhere.1", "state": "approved"}')
        args = transition_args(
            approval.id, "revised", f"U{n:09d}", f"feedback {n}", "decide", nonce=new_nonce(), settings=StoreSettings()
        )
        pipe.evalsha(sha, len(transition_keys(approval.id)), *transition_keys(approval.id), *args)
    replies = await pipe.execute()

    decided = await asyncio.wait_for(asyncio.gather(*waits), 10)
    assert [r[0] for r in replies if isinstance(r, list)] == ["ok"] * len(approvals)
    assert [(d.id, d.state, d.decider, d.feedback) for d in decided] == [
        (a.id, State.REVISED, f"U{n:09d}", f"feedback {n}") for n, a in enumerate(approvals)
    ]
    await close_store(waiter_store)
    await close_store(clicker)


async def test_deadlines_time_up_only_the_waits_still_open_and_keep_no_garbage() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    late = [loop.create_future() for _ in range(300)]
    for fut in late:
        deadlines.add(loop.time() + 3600, fut)
    soon: asyncio.Future[dict[str, str]] = loop.create_future()
    deadlines.add(loop.time() + 0.05, soon)
    decided: asyncio.Future[dict[str, str]] = loop.create_future()
    deadlines.add(loop.time() + 0.05, decided)
    decided.set_result({"state": "approved"})
    deadlines.ended(decided)

    assert await asyncio.wait_for(soon, 2) is TIME_UP
    assert decided.result() == {"state": "approved"}  # a future already resolved is left alone
    for fut in late:  # waits that end early (decided, cancelled) leave stale entries behind ...
        fut.cancel()
        deadlines.ended(fut)
    assert len(deadlines) < 150  # ... dropped in bulk once they are most of the heap
