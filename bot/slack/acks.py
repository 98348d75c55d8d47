"""What both transports (Socket Mode, HTTP) do so that every request Slack sends is acknowledged, and what
listeners go on doing after their ack is awaited at shutdown.

Bolt answers non-200 when dispatch finds no listener or a listener raises before ``ack()``, and raises before any
middleware runs on a ``block_actions`` payload whose ``actions`` is empty (``to_action`` indexes ``actions[0]``
while building middleware arguments). Slack then shows the person an error and, for events, retries. Here such
requests are acknowledged all the same (an empty 200), and a malformed click is answered after its ack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

Malformed = Callable[[dict[str, Any]], Awaitable[None]]
"""Answers a click Bolt cannot dispatch (``Listeners.on_malformed``), after its ack."""


async def acknowledged(app: AsyncApp, request: AsyncBoltRequest, kind: str) -> BoltResponse:
    """Bolt's answer to ``request`` (its ack), or an empty 200 when Bolt failed or answered otherwise."""
    try:
        response = await app.async_dispatch(request)
    except Exception:
        log.exception("a %s request failed before any listener; acknowledging it", kind)
        return BoltResponse(status=200, body="")
    if response.status != 200:
        log.warning("a %s request was answered %s; acknowledging it", kind, response.status)
        return BoltResponse(status=200, body="")
    return response


def malformed_click(kind: str, body: object) -> bool:
    """An interactive ``block_actions`` payload Bolt cannot dispatch (see the module's doc)."""
    return (
        kind == "interactive"
        and isinstance(body, dict)
        and body.get("type") == "block_actions"
        and not well_formed_actions(body)
    )


def well_formed_actions(body: dict[str, Any]) -> bool:
    actions = body.get("actions")
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    )


class Followups:
    """What listeners do after their ack (Bolt runs it in a task of its own), and answers to malformed payloads:
    kept, so that a shutdown can wait for them (``finish``)."""

    def __init__(self, app: AsyncApp) -> None:
        self._work: set[asyncio.Task[Any]] = set()
        runner = app.listener_runner
        runner.listener_start_handler = _Tracked(runner.listener_start_handler, self.keep)

    def keep(self, task: asyncio.Task[Any]) -> None:
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def finish(self, timeout: float) -> int:
        """Wait up to ``timeout`` for what is still running; cancel the rest and return how many there were."""
        work = set(self._work)
        if not work:
            return 0
        _, late = await asyncio.wait(work, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=0.1)
        return len(late)


class _Tracked(AsyncListenerStartHandler):
    """Bolt's listener start handler, run inside the task Bolt starts for a listener: that task is kept."""

    def __init__(self, inner: AsyncListenerStartHandler, keep: Callable[[asyncio.Task[Any]], None]) -> None:
        self._inner = inner
        self._keep = keep

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._keep(task)
        await self._inner.handle(request=request, response=response)
