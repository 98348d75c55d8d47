"""Engine calls made on behalf of a person who is waiting: retried through Redis blips, for a bounded time.

The request was acked already (acks never wait on Redis). A click that cannot be recorded within
``PATIENCE_S`` is answered privately in plain words rather than dropped; the engine's transitions are idempotent
per caller, so retrying a decision whose reply was lost never records it twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.approvals.connection import TRANSIENT

log = logging.getLogger(__name__)

T = TypeVar("T")

PATIENCE_S = 20.0
_TRANSIENT = (*TRANSIENT, TimeoutError)  # the engine's "Redis is unavailable", or our own patience ran out


class StoreUnavailable(Exception):
    """Redis did not answer within the patience: nothing was recorded (as far as this process knows)."""


async def patiently(call: Callable[[], Awaitable[T]], *, patience_s: float = PATIENCE_S) -> T:
    give_up = time.monotonic() + patience_s
    backoff = 0.1
    while True:
        left = give_up - time.monotonic()
        try:
            async with asyncio.timeout(max(left, 0.1)):
                return await call()
        except _TRANSIENT as exc:
            if time.monotonic() + backoff >= give_up:
                raise StoreUnavailable(type(exc).__name__) from exc
            log.warning("Redis did not answer (%s); retrying in %.1fs", type(exc).__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
