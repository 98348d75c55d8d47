"""The page's live updates: one server-sent event stream per open page, sending the viewer's state whenever it
changes (the bot posted, updated, deleted, answered privately, opened or updated a modal, published a Home).

A stream waits on the emulator's change signal (``Recorder.wait_for``), so it wakes on every change without
polling and sends only when what its viewer sees differs from what it sent last. A comment line every
``HEARTBEAT_S`` keeps proxies from closing an idle stream and finds a page that went away; ``close_all`` ends
every stream at once (the emulator's ``aclose``), so stopping the server never waits on an open page.
Format: html.spec.whatwg.org/multipage/server-sent-events.html ("event:" and "data:" lines, a blank line ends
an event, lines starting with ":" are comments).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bot.sandbox.recorder import Recorder

logger = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
CLOSE_WAIT_S = 2.0
HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Accel-Buffering": "no",
}


class Streams:
    """The open streams of every page, and their ending."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.open: set[web.StreamResponse] = set()
        self.closing = False

    async def serve(self, request: web.Request, state: Callable[[], str]) -> web.StreamResponse:
        """Answer ``request`` with a stream of ``state()`` (a JSON text), sent now and after each change."""
        response = web.StreamResponse(headers=HEADERS)
        await response.prepare(request)
        self.open.add(response)
        sent: str | None = None

        def fresh() -> str | None:
            if self.closing or _gone(request):
                return "end"
            text = state()
            return text if text != sent else None

        try:
            while True:
                try:
                    text = await self.recorder.wait_for(fresh, HEARTBEAT_S, "a change the page shows")
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if text == "end":
                    break
                await response.write(event("state", text))
                sent = text
        except (ConnectionError, RuntimeError) as exc:  # the page went away mid-write (aiohttp raises either)
            logger.debug("a page stream ended: %s", exc)
        finally:
            self.open.discard(response)
            self.recorder.changed()  # close_all waits on the set emptying
        return response

    async def close_all(self) -> None:
        """End every stream and wait (briefly) until each has returned."""
        self.closing = True
        self.recorder.changed()
        try:
            await self.recorder.wait_for(lambda: not self.open, CLOSE_WAIT_S, "the page streams to end")
        except TimeoutError:
            logger.warning("%d page stream(s) did not end within %.0f s", len(self.open), CLOSE_WAIT_S)


def event(name: str, data: str) -> bytes:
    """One server-sent event; ``data`` is JSON without newlines (``state.dumps``), so one ``data:`` line."""
    if "\n" in data or "\r" in data:
        raise ValueError("an event's data must be one line")
    return f"event: {name}\ndata: {data}\n\n".encode()


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
