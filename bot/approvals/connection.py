"""How the engine connects to Redis: one bounded pool per process, whatever the number of waits."""

from __future__ import annotations

import asyncio

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


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that redis-py swallowed.

    On Python 3.11, redis-py's ``asyncio.wait_for`` around socket writes can swallow a cancellation that lands
    just as the write completes (CPython gh-86296): the call returns normally though the task was cancelled.
    Call this after Redis calls in code that must stop when cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
