"""Waiting on a condition in tests (never on a guessed sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, what: str = "") -> None:
    """Return as soon as ``condition()`` holds (checked every 5 ms); TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            holds = condition()
            if not isinstance(holds, bool):
                holds = await holds
            if holds:
                return
            await asyncio.sleep(0.005)


async def waiting(store: object, count: int, timeout: float = 5.0) -> None:
    """Until ``count`` approvals are awaited in ``store``'s process (``store.subscriber.waiting``)."""
    await until(lambda: store.subscriber.waiting >= count, timeout)  # type: ignore[attr-defined]
