"""One pub/sub connection per process that wakes any number of local waiters.

Pub/sub is only a wake-up hint: the record in Redis is the truth. redis-py re-subscribes silently after a dropped
connection and pub/sub keeps nothing for absent subscribers, so every ``subscribe`` confirmation (the only sign of
a reconnect) triggers a resync: the states of all locally awaited approvals are re-read and the decided ones are
woken. The same resync runs periodically to catch half-open sockets that nothing else notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.approvals import keys
from bot.approvals.models import as_text

log = logging.getLogger(__name__)

MISSING = "missing"
"""What a waiter is woken with when its record has vanished from Redis."""

_RESYNC_BATCH = 500

Fields = dict[str, str]


class DecisionSubscriber:
    def __init__(self, redis: aioredis.Redis, channel: str = keys.DECIDED_CHANNEL) -> None:
        self._redis = redis
        self._channel = channel
        self._waiters: dict[str, set[asyncio.Future[Fields]]] = {}
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._registered = asyncio.Event()
        self.resyncs = 0

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self._channel)
        self._reader = asyncio.create_task(self._read(), name="approval-subscriber")
        await self._subscribed.wait()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        for futures in self._waiters.values():
            for fut in futures:
                fut.cancel()
        self._waiters.clear()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def register(self, approval_id: str) -> asyncio.Future[Fields]:
        """A future resolved when ``approval_id`` leaves ``pending``: with the decided fields (``state``,
        ``decider``, ``decided_ms``, ``feedback``) from a message, or only ``state`` after a resync."""
        fut: asyncio.Future[Fields] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(approval_id, set()).add(fut)
        self._registered.set()
        return fut

    async def until_waiting(self, count: int) -> None:
        """Return once at least ``count`` approvals are awaited in this process (for tests and benchmarks)."""
        while len(self._waiters) < count:
            self._registered.clear()
            await self._registered.wait()

    def unregister(self, approval_id: str, fut: asyncio.Future[Fields]) -> None:
        futures = self._waiters.get(approval_id)
        if futures is None:
            return
        futures.discard(fut)
        if not futures:
            del self._waiters[approval_id]

    def _wake(self, approval_id: str, fields: Fields) -> None:
        for fut in self._waiters.get(approval_id, ()):
            if not fut.done():
                fut.set_result(fields)

    async def _read(self) -> None:
        assert self._pubsub is not None
        backoff = 0.05
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("approval subscriber lost Redis (%s); reconnecting in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.05
            if message is None:
                continue
            if message["type"] == "message":
                self._on_message(as_text(message["data"]))
            elif message["type"] == "subscribe":
                # First subscription or a silent re-subscription after a reconnect: anything published
                # while we were away is lost, so re-read every record we are waiting for.
                # Done inline: messages arriving meanwhile wait in the socket, and the resync uses another
                # connection of the pool.
                self._subscribed.set()
                try:
                    await self.resync()
                except (RedisError, OSError) as exc:
                    log.warning("approval resync failed (%s); the next reconnect or sweep retries it", exc)

    def _on_message(self, data: str) -> None:
        try:
            decided = json.loads(data)
            fields = {key: str(decided[key]) for key in ("state", "decider", "decided_ms", "feedback")}
            approval_id = str(decided["id"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed decision message")
            return
        self._wake(approval_id, fields)

    async def resync(self) -> int:
        """Re-read the state of every awaited approval; wake those that are decided or gone. Returns how many."""
        self.resyncs += 1
        woken = 0
        ids = list(self._waiters)
        for start in range(0, len(ids), _RESYNC_BATCH):
            batch = ids[start : start + _RESYNC_BATCH]
            states = await self._states(batch)
            for approval_id, state in zip(batch, states, strict=True):
                if state != "pending":
                    self._wake(approval_id, {"state": state})
                    woken += 1
        return woken

    async def _states(self, ids: Iterable[str]) -> list[str]:
        pipe = self._redis.pipeline(transaction=False)
        for approval_id in ids:
            pipe.hget(keys.record_key(approval_id), "state")
        return [as_text(state) if state is not None else MISSING for state in await pipe.execute()]
