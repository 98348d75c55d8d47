"""How the engine connects to Redis: one bounded pool per process, whatever the number of waits."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

MAX_CONNECTIONS = 10
"""Commands share the pool; the decision subscriber holds one connection of it for the process's lifetime."""


def connect(url: str, *, max_connections: int = MAX_CONNECTIONS) -> aioredis.Redis:
    """A client on a blocking pool: callers wait for a free connection instead of failing when all are busy."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool
