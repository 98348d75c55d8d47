"""The waiters of one process and what wakes them: pub/sub messages, and re-reads of their records.

Pub/sub is only a wake-up hint: the record in Redis is the truth. Every subscription confirmation (the first, or a
silent re-subscription after a reconnect: ``listener.py``) triggers a resync, which re-reads the states of all
locally awaited approvals and wakes the decided ones. Confirmations that arrive while a resync runs (a cluster
confirms each shard channel on its own) are covered by one more resync after it, not one each.

Where decisions are heard: on one server or a Sentinel master, one connection ``SUBSCRIBE``d to the classic
channel; on Redis Cluster, one connection per master, ``SSUBSCRIBE``d to the bucket channels (``shards.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from bot.approvals import keys
from bot.approvals.errors import StoreClosed
from bot.approvals.listener import ChannelListener, unchanged
from bot.approvals.models import as_text
from bot.approvals.shards import ShardListeners
from bot.approvals.topology import is_cluster

log = logging.getLogger(__name__)

MISSING = "missing"
"""What a waiter is woken with when its record has vanished from Redis."""

_RESYNC_BATCH = 500

Fields = dict[str, str]


def sharded(redis: object) -> bool:
    """Whether decisions on this client's Redis go out on shard channels (Redis Cluster) or the classic one."""
    return is_cluster(redis)


class DecisionSubscriber:
    def __init__(self, redis: aioredis.Redis, *, idle_s: float = 1.5, reply_timeout_s: float = 2.0) -> None:
        self._redis = redis
        self._idle_s = idle_s
        self._reply_timeout_s = reply_timeout_s
        self._waiters: dict[str, set[asyncio.Future[Fields]]] = {}
        self._listener: ChannelListener | None = None
        self._shards: ShardListeners | None = None
        self._subscribed = asyncio.Event()
        self._resyncer: asyncio.Task[None] | None = None
        self._resync_again = False
        self._closing = False

    async def start(self) -> None:
        """Subscribe; returns once every channel's subscription is confirmed."""
        if sharded(self._redis):
            self._shards = ShardListeners(self._redis, keys.decided_channels(), self._listen)  # type: ignore[arg-type]
            await self._shards.start()
        else:
            self._listener = self._listen(self._redis.pubsub(push_handler_func=unchanged), [keys.DECIDED_CHANNEL])
            await self._listener.start()
        await self._subscribed.wait()

    def _listen(self, pubsub: PubSub, channels: Sequence[str], name: str = "approval-listener") -> ChannelListener:
        shards = self._shards
        return ChannelListener(
            pubsub,
            channels,
            sharded=shards is not None,
            on_data=self._on_message,
            on_subscribed=self._on_subscribed,
            on_moved=shards.check if shards is not None else lambda: None,
            on_lost=shards.check if shards is not None else lambda: None,
            idle_s=self._idle_s,
            reply_timeout_s=self._reply_timeout_s,
            name=name,
        )

    @property
    def listeners(self) -> list[ChannelListener]:
        """The pub/sub connections' listeners (one, or one per cluster master)."""
        if self._shards is not None:
            return self._shards.listeners
        return [self._listener] if self._listener is not None else []

    def owners(self) -> dict[str, tuple[str, ...]]:
        """On Redis Cluster, node (``host:port``) -> the shard channels heard there; else empty."""
        return self._shards.owners if self._shards is not None else {}

    async def aclose(self) -> None:
        """Stop reading; every registered waiter's future raises ``StoreClosed``."""
        self._closing = True
        if self._shards is not None:
            await self._shards.aclose()
        if self._listener is not None:
            await self._listener.aclose()
        if self._resyncer is not None:
            self._resyncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resyncer
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
        ``decider``, ``decided_ms``, ``feedback``, ``approved_by`` comma-separated) from a message, or only
        ``state`` after a resync."""
        fut: asyncio.Future[Fields] = asyncio.get_running_loop().create_future()
        futures = self._waiters.get(approval_id)
        if futures is None:
            self._waiters[approval_id] = {fut}
        else:
            futures.add(fut)
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

    def _on_message(self, data: str | bytes) -> None:
        try:
            decided = json.loads(data)
            approval_id = decided["id"]
            fields = {"state": decided["state"], "decider": decided["decider"], "decided_ms": decided["decided_ms"]}
            fields["feedback"] = decided["feedback"]
            fields["approved_by"] = decided.get("approved_by", "")  # absent from an older replica's message
            if type(approval_id) is not str or not all(type(value) is str for value in fields.values()):
                raise TypeError("decision fields are strings")
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed decision message")
            return
        self._wake(approval_id, fields)

    def _on_subscribed(self) -> None:
        if all(set(listener.channels) <= listener.confirmed for listener in self.listeners):
            self._subscribed.set()
        self._resync_again = True
        if self._resyncer is None or self._resyncer.done():
            self._resyncer = asyncio.create_task(self._resync_while_asked(), name="approval-resync")

    async def _resync_while_asked(self) -> None:
        while self._resync_again and not self._closing:
            self._resync_again = False
            try:
                await self.resync()
            except (RedisError, OSError) as exc:
                log.warning("approval resync failed (%s); the next reconnect or sweep retries it", exc)

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
