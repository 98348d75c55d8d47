"""One pub/sub connection per process that wakes any number of local waiters.

Pub/sub is only a wake-up hint: the record in Redis is the truth. redis-py re-subscribes silently after a dropped
connection and pub/sub keeps nothing for absent subscribers, so every ``subscribe`` confirmation (the only sign of
a reconnect) triggers a resync: the states of all locally awaited approvals are re-read and the decided ones are
woken. A connection can also stay open and deliver nothing (half-open TCP, a stalled server), which neither
redis-py's ``health_check_interval`` nor a blocking read notices; so the reader reads with a timeout, sends its
own PING after ``idle_s`` of silence, and reconnects when nothing comes back within ``reply_timeout_s``.
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
from bot.approvals.errors import StoreClosed
from bot.approvals.models import as_text
from bot.approvals.topology import is_cluster

log = logging.getLogger(__name__)

MISSING = "missing"
"""What a waiter is woken with when its record has vanished from Redis."""

PING_TOKEN = "approvals-liveness"

_RESYNC_BATCH = 500

Fields = dict[str, str]


class DecisionSubscriber:
    def __init__(
        self,
        redis: aioredis.Redis,
        channel: str = keys.DECIDED_CHANNEL,
        *,
        idle_s: float = 1.5,
        reply_timeout_s: float = 2.0,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._idle_s = idle_s
        self._reply_timeout_s = reply_timeout_s
        self._waiters: dict[str, set[asyncio.Future[Fields]]] = {}
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        if is_cluster(self._redis):
            # A cluster client learns its slots on its first command; its pub/sub needs them to pick a node. The
            # TRANSITION script's PUBLISH is broadcast to every node, so any node hears every decision.
            await self._redis.initialize()
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self._channel)
        self._reader = asyncio.create_task(self._read(), name="approval-subscriber")
        await self._subscribed.wait()

    async def aclose(self) -> None:
        """Stop reading; every registered waiter's future raises ``StoreClosed``."""
        self._closing = True  # redis-py can swallow a cancellation (see connection.raise_if_cancelled)
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
                if not fut.done():
                    fut.set_exception(StoreClosed())
                    fut.exception()  # retrieved here: a future nobody awaits any more logs nothing
        self._waiters.clear()

    @property
    def waiting(self) -> int:
        """How many approvals are awaited in this process."""
        return len(self._waiters)

    def register(self, approval_id: str) -> asyncio.Future[Fields]:
        """A future resolved when ``approval_id`` leaves ``pending``: with the decided fields (``state``,
        ``decider``, ``decided_ms``, ``feedback``) from a message, or only ``state`` after a resync."""
        fut: asyncio.Future[Fields] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(approval_id, set()).add(fut)
        return fut

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
        loop = asyncio.get_running_loop()
        backoff = 0.05
        heard = loop.time()
        pinged: float | None = None  # when our PING went out, while its answer is awaited
        while not self._closing:
            try:
                if pinged is None and loop.time() - heard >= self._idle_s:
                    await self._pubsub.ping(PING_TOKEN)
                    pinged = loop.time()
                wait_s = self._idle_s if pinged is None else max(0.0, pinged + self._reply_timeout_s - loop.time())
                message = await self._pubsub.get_message(timeout=wait_s)
            except (RedisError, OSError) as exc:
                log.warning("approval subscriber lost Redis (%s); reconnecting in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                heard, pinged = loop.time(), None
                continue
            if message is None:
                if pinged is not None and loop.time() - pinged >= self._reply_timeout_s:
                    log.warning("approval subscriber heard nothing for %.1fs; reconnecting", loop.time() - heard)
                    await self._drop_connection()
                    heard, pinged = loop.time(), None
                continue
            heard, pinged, backoff = loop.time(), None, 0.05  # anything at all proves the connection alive
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

    async def _drop_connection(self) -> None:
        """Close the deaf socket; the next read reconnects, redis-py re-subscribes, and that triggers a resync."""
        assert self._pubsub is not None
        connection = self._pubsub.connection
        if connection is not None:
            await connection.disconnect(nowait=True)

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
