"""The emulator's sense of time: wall-clock seconds that a test may move forward.

Every time-bound Slack rule (response_url expiry, rate-limit buckets, the 3 s ack deadline, Events API retry
delays) reads ``Clock.now()`` and waits with ``Clock.sleep_until()``, so ``advance(seconds)`` makes time pass
for all of them at once without switching any rule off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Clock:
    """``source()`` (default ``time.time``) plus whatever ``advance`` has added."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        """Move time forward; anything sleeping until a moment now passed wakes at once."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def sleep_until(self, moment: float) -> None:
        """Return once ``now() >= moment``, whether by waiting or by ``advance``."""
        while (left := moment - self.now()) > 0:
            moved = self._moved
            try:
                async with asyncio.timeout(left):
                    await moved.wait()
            except TimeoutError:
                pass
