"""When local waits give up: one timer for all of them, not one ``asyncio`` timer each.

10,000 waits each holding an ``asyncio.timeout`` keep 10,000 ``TimerHandle``s in the event loop's heap, ordered by
a Python ``__lt__``: a burst of decisions then spends a sixth of its time cancelling and re-heaping them. Here the
deadlines sit in one heap of ``(when, seq, future)`` tuples (compared in C) behind one loop timer for the earliest.
A wait that ends early leaves its entry behind (its future is done); stale entries are dropped when they come due,
or all at once when they are more than half of the heap, so a high decision rate with long deadlines keeps no
garbage.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

Fields = dict[str, str]

TIME_UP: Fields = {}
"""What a waiter's future is resolved with when its time is up (no decision came)."""

_MIN_STALE = 100


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[Fields]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._stale = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, when: float, fut: asyncio.Future[Fields]) -> None:
        """Resolve ``fut`` with ``TIME_UP`` at ``when`` (loop time), unless it is done by then."""
        heapq.heappush(self._heap, (when, next(self._seq), fut))
        if self._timer is None or when < self._timer_at:
            self._schedule(when)

    def ended(self, fut: asyncio.Future[Fields]) -> None:
        """``fut``'s wait is over: if it ended before its deadline, its entry is stale."""
        if not fut.cancelled() and fut.exception() is None and fut.result() is TIME_UP:
            return  # popped at its deadline
        self._stale += 1
        if self._stale > _MIN_STALE and self._stale * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].done()]
            heapq.heapify(self._heap)
            self._stale = 0
            if not self._heap and self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def clear(self) -> None:
        """Forget every deadline and stop the timer (the store is closing: its waits end with ``StoreClosed``)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._stale = 0

    def _schedule(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, fut = heapq.heappop(heap)
            if fut.done():
                self._stale = max(0, self._stale - 1)
            else:
                fut.set_result(TIME_UP)
        if heap:
            self._schedule(heap[0][0])
