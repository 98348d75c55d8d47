"""How the engine connects to Redis: one bounded pool per process, whatever the number of waits.

Every call is bounded: a reply must come within ``socket_timeout_s`` (then redis-py reconnects and re-sends it,
up to ``RETRIES`` times; the scripts carry nonces, so a re-send is harmless), and a caller waits at most
``pool_timeout_s`` for a free connection. Callers that must answer sooner (Slack's 3 s ack) wrap the call in their
own ``asyncio.timeout``: a cancelled call closes its connection (redis-py disconnects on any interruption of a
read or write), so the pool never hands out a connection with a stale reply on it.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis._parsers import _AsyncRESP3Parser
from redis.asyncio.connection import DefaultParser
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

MAX_CONNECTIONS = 10
"""Commands share the pool; the decision subscriber holds one connection of it for the process's lifetime."""

SOCKET_TIMEOUT_S = 5.0
POOL_TIMEOUT_S = 5.0
RETRIES = 3

PARSERS = {"default": DefaultParser, "python": _AsyncRESP3Parser}
"""redis-py picks RESP2 or RESP3 to match the protocol when given its pure-Python parser."""

TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)
"""Errors that mean "Redis is unavailable right now", worth retrying."""


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
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {', '.join(PARSERS)}, got {parser!r}")
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        parser_class=PARSERS[parser],
        max_connections=max_connections,
        timeout=pool_timeout_s,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=socket_timeout_s,
        socket_keepalive=True,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=retries),
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that redis-py swallowed.

    On Python 3.11, redis-py's ``asyncio.wait_for`` around socket writes can swallow a cancellation that lands
    just as the write completes (CPython gh-86296): the call returns normally though the task was cancelled.
    Call this after Redis calls in code that must stop when cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
