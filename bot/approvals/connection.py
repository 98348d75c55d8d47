"""How the engine connects to Redis: one bounded pool per process, whatever the number of waits.

Every call is bounded: a reply must come within ``socket_timeout_s`` (then redis-py reconnects and re-sends it,
up to ``RETRIES`` times; the scripts carry nonces, so a re-send is harmless), and a caller waits at most
``pool_timeout_s`` for a free connection. Callers that must answer sooner (Slack's 3 s ack) wrap the call in their
own ``asyncio.timeout``: a cancelled call closes its connection (redis-py disconnects on any interruption of a
read or write), so the pool never hands out a connection with a stale reply on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis._parsers import _AsyncRESP3Parser
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import AbstractConnection, BlockingConnectionPool, DefaultParser, SSLConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    from hiredis import pack_command as _hiredis_pack

MAX_CONNECTIONS = 10
"""Commands share the pool; the decision subscriber holds one connection of it for the process's lifetime."""

SOCKET_TIMEOUT_S = 5.0
POOL_TIMEOUT_S = 5.0
RETRIES = 3

PARSERS = {"default": DefaultParser, "python": _AsyncRESP3Parser}
"""redis-py picks RESP2 or RESP3 to match the protocol when given its pure-Python parser."""

TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)
"""Errors that mean "Redis is unavailable right now", worth retrying."""

CLUSTER_MAX_CONNECTIONS = 32
"""Connections per cluster node. redis-py's cluster client has no blocking pool: past this, a call fails at once
with ``MaxConnectionsError`` (a ``ConnectionError``, so the store's own retries wait it out)."""

Address = tuple[str, int]


class HiredisPacking:
    """Packs commands with hiredis's C packer, as redis-py's synchronous client does when hiredis is installed; its
    asyncio connections pack in Python, which took about half of a deciding process's CPU on pipelined transitions
    (an EVALSHA of TRANSITION has 19 arguments)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):  # a command name of several words ("CLIENT LIST") is several arguments
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            packed: Any = tuple(bytes(a) if isinstance(a, bytearray | memoryview) else a for a in args)
            return [_hiredis_pack(packed)]
        except TypeError as exc:
            raise DataError(str(exc)) from exc


_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` packing with hiredis (the class itself when hiredis is not installed)."""
    if not HIREDIS_AVAILABLE:
        return connection_class
    if connection_class not in _PACKING:
        _PACKING[connection_class] = type(
            f"HiredisPacking{connection_class.__name__}", (HiredisPacking, connection_class), {}
        )
    return _PACKING[connection_class]


def connect(
    url: str,
    *,
    max_connections: int = MAX_CONNECTIONS,
    socket_timeout_s: float = SOCKET_TIMEOUT_S,
    pool_timeout_s: float = POOL_TIMEOUT_S,
    retries: int = RETRIES,
    parser: str = "default",
) -> aioredis.Redis:
    """A client on a blocking pool: callers wait (up to ``pool_timeout_s``) for a free connection instead of
    failing at once when all are busy.

    ``parser="default"`` reads replies with hiredis when it is installed (a dependency: several times faster on
    pipelined transitions, see the benchmark), else redis-py's pure-Python parser; ``"python"`` forces the latter.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        **_bounded(socket_timeout_s, retries, parser),
    )
    if parser == "default":  # the pure-Python baseline packs in Python too, as it would without hiredis
        pool.connection_class = hiredis_packing(pool.connection_class)
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


class SentinelBlockingConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's master discovery with the blocking pool's wait for a free connection (redis-py has no such
    class): every new connection asks the sentinels where the master is, and a connection that finds it demoted
    (``READONLY``) is dropped, so after a failover the pool reconnects to the new master."""


class SentinelMasterConnection(SentinelManagedConnection):
    """A connection to the Sentinel master that treats ``NOREPLICAS`` like redis-py treats ``READONLY``.

    With ``min-replicas-to-write`` set, a master that lost its replicas (the old master during a failover, before
    the sentinels demote it) refuses writes with ``NOREPLICAS``: that is "ask the sentinels again", so the
    connection is dropped and the call fails as a ``ConnectionError``, which redis-py retries and the engine's
    callers treat as "Redis is briefly unavailable".

    It also asks the sentinels where the master is on every (re)connect: redis-py 8.1 reconnects a dropped
    connection from ``send_packed_command`` through ``connect_check_health``, bypassing Sentinel's ``connect``,
    so after a failover it reconnected to the demoted master until its retries ran out."""

    async def _connect(self) -> None:
        if self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super()._connect()  # type: ignore[no-untyped-call]

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if "NOREPLICAS" not in str(exc):
                raise
            await self.disconnect()
            raise RedisConnectionError("the Redis master has too few replicas to accept writes") from exc


class SentinelMasterSSLConnection(SentinelMasterConnection, SSLConnection):
    pass


class SentinelRedis(aioredis.Redis):
    """A client of a Sentinel-managed master that also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def connect_sentinel(
    sentinels: Sequence[Address],
    service: str,
    *,
    url: str | None = None,
    max_connections: int = MAX_CONNECTIONS,
    socket_timeout_s: float = SOCKET_TIMEOUT_S,
    pool_timeout_s: float = POOL_TIMEOUT_S,
    retries: int = RETRIES,
    parser: str = "default",
) -> aioredis.Redis:
    """A client of the master the sentinels name ``service``, on a blocking pool, bounded like ``connect()``.

    ``url`` (``REDIS_URL``) lends its username, password, database and ``rediss://`` (TLS) to the master's
    connections; its host and port are not used. The sentinels are asked with the same socket timeouts and no
    password.
    """
    options = _bounded(socket_timeout_s, retries, parser)
    credentials = _credentials(url, with_db=True)
    tls = bool(credentials.pop("ssl", False))
    manager = Sentinel(  # type: ignore[no-untyped-call]
        list(sentinels),
        sentinel_kwargs={
            "socket_timeout": socket_timeout_s,
            "socket_connect_timeout": socket_timeout_s,
            "socket_keepalive": True,
            "decode_responses": True,
        },
    )
    client: aioredis.Redis = manager.master_for(
        service,
        redis_class=SentinelRedis,
        connection_pool_class=SentinelBlockingConnectionPool,
        connection_class=hiredis_packing(SentinelMasterSSLConnection if tls else SentinelMasterConnection)
        if parser == "default"
        else SentinelMasterSSLConnection
        if tls
        else SentinelMasterConnection,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        **options,
        **credentials,
    )
    return client


class EngineClusterPipeline(ClusterPipeline):
    """A cluster pipeline that may also carry ``TIME`` (redis-py blocks it in cluster pipelines because it names
    no key; it goes to the cluster's default node). The engine reads Redis's clock in the same round trip as the
    records it reads, as it does on one server; deadlines themselves are always set and checked by the Lua
    scripts on the node that holds the record."""

    def time(self, **kwargs: Any) -> Any:
        return self.execute_command("TIME", **kwargs)


class EngineCluster(RedisCluster):
    """``RedisCluster`` whose pipelines are ``EngineClusterPipeline``s."""

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> ClusterPipeline:
        if transaction or shard_hint:
            raise ValueError("the engine's cluster pipelines are not transactions")
        return EngineClusterPipeline(self)  # type: ignore[abstract]


def connect_cluster(
    nodes: Sequence[Address],
    *,
    url: str | None = None,
    max_connections: int = CLUSTER_MAX_CONNECTIONS,
    socket_timeout_s: float = SOCKET_TIMEOUT_S,
    retries: int = RETRIES,
) -> RedisCluster:
    """A Redis Cluster client that discovers every node from ``nodes``, bounded like ``connect()``.

    ``url`` lends its username, password and ``rediss://`` (TLS). The parser is redis-py's default (hiredis when
    installed): its cluster client takes no parser choice, and no pool timeout (see ``CLUSTER_MAX_CONNECTIONS``).
    """
    credentials = _credentials(url, with_db=False)
    return EngineCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        max_connections=max_connections,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=socket_timeout_s,
        socket_keepalive=True,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=retries),
        health_check_interval=30,
        username=credentials.get("username"),
        password=credentials.get("password"),
        ssl=bool(credentials.get("ssl", False)),
    )


def _bounded(socket_timeout_s: float, retries: int, parser: str) -> dict[str, Any]:
    """What every single-server and Sentinel connection is opened with: bounded calls, retries, the parser."""
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {', '.join(PARSERS)}, got {parser!r}")
    return {
        "parser_class": PARSERS[parser],
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": socket_timeout_s,
        "socket_keepalive": True,
        "decode_responses": True,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=retries),
        "health_check_interval": 30,
    }


def _credentials(url: str | None, *, with_db: bool) -> dict[str, Any]:
    """Username, password, database and TLS from a ``redis://`` / ``rediss://`` URL (host and port ignored)."""
    if not url:
        return {}
    parts = urlsplit(url)
    found: dict[str, Any] = {}
    if parts.username:
        found["username"] = unquote(parts.username)
    if parts.password:
        found["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        found["ssl"] = True
    db = parts.path.strip("/")
    if with_db and db.isdigit():
        found["db"] = int(db)
    return found


class EngineScript:
    """A Lua script called by its SHA, as redis-py's ``Script`` calls it, that also reaches a node which does not
    know it.

    Script caches are not replicated: a replica promoted by a failover answers ``NOSCRIPT``. redis-py then sends
    ``SCRIPT LOAD`` where its slot map points, which right after a failover may still be the old master, and the
    second ``EVALSHA`` fails again; ``EVAL`` is routed by the script's keys, so it loads the script where it runs."""

    def __init__(self, redis: aioredis.Redis, text: str) -> None:
        self._redis = redis
        self._text = text
        self._script = redis.register_script(text)

    async def __call__(self, *, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await self._script(keys=keys, args=args)
        except NoScriptError:
            return await self._redis.eval(self._text, len(keys), *keys, *args)


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that redis-py swallowed.

    On Python 3.11, redis-py's ``asyncio.wait_for`` around socket writes can swallow a cancellation that lands
    just as the write completes (CPython gh-86296): the call returns normally though the task was cancelled.
    Call this after Redis calls in code that must stop when cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
