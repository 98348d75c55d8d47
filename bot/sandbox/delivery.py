"""Getting envelopes to the app: one at a time, in order, to a chosen or the next open connection."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Envelope
from bot.sandbox.socket_mode import SocketHub

logger = logging.getLogger(__name__)

TIMEOUT = 10.0  # how long an envelope waits for an open connection
CommandAck = Callable[[dict[str, Any], dict[str, Any]], None]


class Delivery:
    """Sends envelopes (waiting for a connection if none is open), keeps background sends, routes acks.

    Sends are serialised by a FIFO lock, so events caused by Web API calls reach the app in call order.
    """

    def __init__(self, hub: SocketHub, recorder: Recorder, on_command_ack: CommandAck) -> None:
        self.hub = hub
        self.recorder = recorder
        self.on_command_ack = on_command_ack
        self.sent: dict[str, Envelope] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Envelope]] = set()

    async def deliver(self, envelope: Envelope, connection: str | None) -> Envelope:
        """Send ``envelope``; returns it with ``connection`` set. Raises ``TimeoutError`` if no connection."""
        async with self._lock:
            while True:
                conn = await self.hub.pick(connection, TIMEOUT)
                sent = replace(envelope, connection=conn.id)
                self.sent[sent.envelope_id] = sent  # before sending: the ack may come back at once
                try:
                    await self.hub.send(conn, json.dumps(sent.frame()))
                except ConnectionError:
                    del self.sent[sent.envelope_id]
                    if connection is not None:
                        raise
                    conn.draining = True  # it is closing under us: try another one
                    continue
                self.recorder.record_envelope(sent)
                return sent

    async def send_raw(self, text: str, connection: str | None) -> str:
        async with self._lock:
            conn = await self.hub.pick(connection, TIMEOUT)
            await self.hub.send(conn, text)
            return conn.id

    def deliver_later(self, envelope: Envelope) -> None:
        """Deliver in the background, as Slack does with events caused by Web API calls."""
        task = asyncio.get_running_loop().create_task(self.deliver(envelope, None))
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Envelope]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("an event was not delivered: %s", task.exception())

    def on_ack(self, ack: dict[str, Any]) -> None:
        envelope = self.sent.get(str(ack["envelope_id"]))
        if envelope is None:
            logger.warning("ack for an unknown envelope %s", ack["envelope_id"])
        elif envelope.type == "slash_commands":
            self.on_command_ack(envelope.payload, ack)
        self.recorder.record_ack(ack)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
