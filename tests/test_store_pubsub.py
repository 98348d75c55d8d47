"""The subscriber through a connection that stays open but delivers nothing, and waits cut short by aclose()."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.approvals import Outcome, State, StoreClosed
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
