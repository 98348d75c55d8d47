"""What happened in the emulator, and waiting for something to happen, without polling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from bot.sandbox.records import Activity, Call, Envelope

logger = logging.getLogger(__name__)

T = TypeVar("T")
Observer = Callable[[Activity], None]


class Recorder:
    """Calls, envelopes, acks and activities, plus a change signal that every state change fires.

    The signal is an ``asyncio.Event`` that is set and replaced on each change, so that synchronous code
    (the workspace setup, the Web API handlers) can notify waiters without taking a lock.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.envelopes: list[Envelope] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.client_frames: list[str] = []
        self._observers: list[Observer] = []
        self._signal = asyncio.Event()

    def changed(self) -> None:
        """Wake every waiter so it re-checks its condition."""
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()

    def record_call(self, call: Call) -> None:
        self.calls.append(call)
        self.changed()

    def record_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)
        self.changed()

    def record_ack(self, ack: dict[str, Any]) -> None:
        self.acks[str(ack["envelope_id"])] = ack
        self.changed()

    def record_frame(self, text: str) -> None:
        self.client_frames.append(text)
        self.changed()

    # -- observers -------------------------------------------------------------------------------------

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def emit(self, activity: Activity) -> None:
        for observer in list(self._observers):
            try:
                observer(activity)
            except Exception:
                logger.exception("an activity observer failed")
        self.changed()

    # -- waiting ---------------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str | None = None) -> T:
        """Return ``predicate()`` once it is truthy; re-checked on every change. Raises ``TimeoutError``."""
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):
                    await self._signal.wait()
                return value  # truthy, so not None
        except TimeoutError:
            described = what or str(getattr(predicate, "__name__", "a condition"))
            raise TimeoutError(self._timeout_text(timeout, described)) from None

    def mark(self) -> int:
        return len(self.calls)

    async def next_call(
        self,
        method: str,
        *,
        timeout: float,
        since: int | None,
        where: Callable[[Call], bool] | None,
    ) -> Call:
        start = self.mark() if since is None else since

        def found() -> Call | None:
            for call in self.calls[start:]:
                if call.method == method and (where is None or where(call)):
                    return call
            return None

        return await self.wait_for(found, timeout, f"a call to {method} (after call #{start})")

    def _timeout_text(self, timeout: float, what: str) -> str:
        recent = "\n".join(f"  #{i} {c.summary()}" for i, c in list(enumerate(self.calls))[-10:])
        return f"timed out after {timeout}s waiting for {what}; recent Web API calls:\n{recent or '  (none)'}"
