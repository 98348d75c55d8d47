"""Sharded pub/sub on Redis Cluster (7.0+): one listener per master, on the bucket channels of that master's slots.

A classic ``PUBLISH`` on a cluster is broadcast over the cluster bus to every node, so its cost grows with the
cluster. The TRANSITION script ``SPUBLISH``es instead, on its bucket's channel (``appr:{b07}:decided``, the slot of
the approval's own keys), which only the shard holding that slot handles. A process then needs one connection per
master, each ``SSUBSCRIBE``d to the channels whose slots the master serves.

When a slot moves (a failover, a resharding) the node that lost it ends those subscriptions with a ``sunsubscribe``
nobody asked for, or the listener loses its node altogether; either way ``check()`` re-reads the cluster's slot map
and, if an owner changed, replaces every listener. The new subscriptions' confirmations make the subscriber re-read
the records of all local waiters, so a decision published in the gap is not missed. A node that restarts in place
is handled by its own listener: redis-py reconnects it and re-subscribes (one channel per command, see
``listener.ShardPubSub``), and that confirmation triggers the same re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import ConnectionPool
from redis.exceptions import RedisClusterException, RedisError, SlotNotCoveredError

from bot.approvals.connection import raise_if_cancelled
from bot.approvals.listener import ChannelListener, ShardPubSub, unchanged

log = logging.getLogger(__name__)

MakeListener = Callable[[PubSub, Sequence[str], str], ChannelListener]
"""(pubsub, channels, name) -> a listener wired to the subscriber."""


class ShardListeners:
    def __init__(self, cluster: RedisCluster, channels: Sequence[str], make: MakeListener) -> None:
        self._cluster = cluster
        self._channels = tuple(channels)
        self._make = make
        self._listeners: list[tuple[ChannelListener, ConnectionPool, str]] = []
        self._owners: dict[str, tuple[str, ...]] = {}
        self._left: dict[str, str] = {}
        """Shard channel -> the node that unsubscribed us from it, until the slot map names another owner."""
        self._check = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def listeners(self) -> list[ChannelListener]:
        return [listener for listener, _, _ in self._listeners]

    @property
    def owners(self) -> dict[str, tuple[str, ...]]:
        """Node name (``host:port``) -> the channels its listener is subscribed to."""
        return dict(self._owners)

    async def start(self) -> None:
        await self._cluster.initialize()
        await self._build(self._current_owners())
        self._supervisor = asyncio.create_task(self._supervise(), name="approval-shards")

    async def aclose(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._close_listeners()

    def check(self) -> None:
        """Look again where every channel's slot is (a listener lost its node or was unsubscribed by it)."""
        self._check.set()

    def _current_owners(self) -> dict[str, tuple[str, ...]]:
        owners: dict[str, list[str]] = {}
        for channel in self._channels:
            node = self._cluster.get_node_from_key(channel)
            if node is None:
                raise SlotNotCoveredError(f"no node serves the slot of {channel}")
            owners.setdefault(node.name, []).append(channel)
        return {name: tuple(channels) for name, channels in sorted(owners.items())}

    async def _build(self, owners: dict[str, tuple[str, ...]]) -> None:
        self._owners = owners
        for name, channels in owners.items():
            node = self._cluster.get_node(node_name=name)
            assert node is not None, f"the slot map names {name}, which the cluster client does not know"
            pool = _pool_for(node)
            pubsub = ShardPubSub(connection_pool=pool, push_handler_func=unchanged)
            listener = self._make(pubsub, channels, f"approval-shard-listener {name}")
            self._listeners.append((listener, pool, name))
            try:
                await listener.start()
            except (
                RedisError,
                RedisClusterException,
                OSError,
            ) as exc:  # its node is down: the listener is rebuilt on the next check
                log.warning("could not subscribe on %s (%s); looking again", name, exc)
                self._check.set()

    async def _close_listeners(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener, pool, _ in listeners:
            await listener.aclose()
            with contextlib.suppress(RedisError, OSError):
                await pool.disconnect()

    async def _supervise(self) -> None:
        backoff = 0.05
        while True:
            await self._check.wait()
            self._check.clear()
            try:
                for listener, _, name in self._listeners:
                    self._left.update(dict.fromkeys(listener.moved, name))
                await self._cluster.nodes_manager.initialize()
                owners = self._current_owners()
                owner_of = {channel: name for name, channels in owners.items() for channel in channels}
                self._left = {c: name for c, name in self._left.items() if owner_of.get(c) == name}
                if owners != self._owners or not all(listener.healthy for listener in self.listeners):
                    # Subscribe anew, even where the slot map has not caught up with a failover yet (a demoted
                    # master still serves its shard's channels as a replica), and look again until it has.
                    log.info("shard channels: %s", ", ".join(f"{n}: {len(c)}" for n, c in owners.items()))
                    await self._close_listeners()
                    await self._build(owners)
                if self._left:
                    self._check.set()
                raise_if_cancelled()
            except (RedisError, RedisClusterException, OSError) as exc:
                raise_if_cancelled()
                log.warning("could not read the cluster's slots (%s)", exc)
                self._check.set()
            if self._check.is_set() or not all(listener.healthy for listener in self.listeners):
                await asyncio.sleep(backoff)  # a pause between attempts, not a synchronisation
                backoff = min(backoff * 2, 1.0)
                self._check.set()
            else:
                backoff = 0.05


def _pool_for(node: ClusterNode) -> ConnectionPool:
    """A pool of the node's own connection settings (timeouts, credentials, TLS, parser) for one pub/sub
    connection, apart from the connections the cluster client uses for commands."""
    return ConnectionPool(connection_class=node.connection_class, max_connections=2, **node.connection_kwargs)
