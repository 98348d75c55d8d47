"""How to reach Redis: one server (a URL), the master of a Sentinel service, or a Redis Cluster.

redis-py has no URL scheme for Sentinel or Cluster, so a ``Topology`` names the one way in use. Whichever it is,
the engine gets one client with bounded calls (``connection.py``). On a cluster, the engine's Lua scripts stay
legal because every script's KEYS share one approval's hash-tag bucket (``keys.py``); on a cluster (Redis 7.0+)
the TRANSITION script ``SPUBLISH``es on its bucket's shard channel, which is in the same slot, and the decision
subscriber listens on every master (``shards.py``); elsewhere it ``PUBLISH``es on one classic channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bot.approvals.connection import SOCKET_TIMEOUT_S, Address, connect, connect_cluster, connect_sentinel

Kind = Literal["server", "sentinel", "cluster"]


@dataclass(frozen=True, slots=True)
class Topology:
    """Exactly one of: ``url`` alone, ``sentinels`` + ``sentinel_service``, or ``cluster_nodes``.

    With sentinels or cluster nodes, ``url`` only lends its credentials (and database, for Sentinel)."""

    url: str = "redis://localhost:6379/0"
    sentinels: tuple[Address, ...] = ()
    sentinel_service: str | None = None
    cluster_nodes: tuple[Address, ...] = ()

    def __post_init__(self) -> None:
        if self.sentinels and self.cluster_nodes:
            raise ValueError("a Topology is either Sentinel or Cluster, not both")
        if bool(self.sentinels) != (self.sentinel_service is not None):
            raise ValueError("sentinels and sentinel_service go together")

    @property
    def kind(self) -> Kind:
        if self.sentinels:
            return "sentinel"
        return "cluster" if self.cluster_nodes else "server"


def open_client(topology: Topology, *, socket_timeout_s: float = SOCKET_TIMEOUT_S) -> aioredis.Redis:
    """The engine's client for ``topology``, not connected yet (the first command connects).

    A cluster client is typed as ``redis.asyncio.Redis`` for the engine's annotations: it answers every command
    the engine sends (single-slot scripts and keys, non-transactional pipelines, ``TIME``, pub/sub)."""
    if topology.kind == "sentinel":
        assert topology.sentinel_service is not None
        return connect_sentinel(
            topology.sentinels, topology.sentinel_service, url=topology.url, socket_timeout_s=socket_timeout_s
        )
    if topology.kind == "cluster":
        return as_engine_client(
            connect_cluster(topology.cluster_nodes, url=topology.url, socket_timeout_s=socket_timeout_s)
        )
    return connect(topology.url, socket_timeout_s=socket_timeout_s)


def as_engine_client(cluster: RedisCluster) -> aioredis.Redis:
    """``cluster`` where the engine expects a ``redis.asyncio.Redis`` (see ``open_client``)."""
    return cast(aioredis.Redis, cluster)


def is_cluster(redis: object) -> bool:
    return isinstance(redis, RedisCluster)
