"""The Socket Mode handler: Bolt's, made to ack every envelope, and to close only once the envelopes it got are
acked.

Bolt's adapter sends no ack when dispatch raises or answers non-200 (slack-facts, pitfall 1); here every envelope
is acked as ``bot.slack.acks`` says (the HTTP side, ``bot.slack.http``, answers the same way).

On shutdown, ``drain`` waits until every envelope received is acked, ``close_async`` closes the connection
within a bound (a Slack that does not answer the close handshake does not hold the process), and
``finish_listeners`` waits for what listeners do after their ack (recording a click, queueing a run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.acks import Followups, Malformed, acknowledged, malformed_click

log = logging.getLogger(__name__)


QUIET_S = 0.1
"""An envelope Slack sent just before the signal may still be on its way: ``drain`` returns only after this long
with nothing received and nothing unacked."""


class AckingSocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, app: AsyncApp, app_token: str, *, on_malformed: Malformed) -> None:
        super().__init__(app, app_token)
        self._on_malformed = on_malformed
        self._followups = Followups(app)
        self._handling = 0
        self._changed = asyncio.Event()
        self._last_received = 0.0
        self.client.on_message_listeners.append(self._received)

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self._handling += 1
        try:
            await self._handle(client, req)
            await asyncio.sleep(0)  # a listener Bolt started after an auto-ack registers itself before this ends
        finally:
            self._handling -= 1
            self._changed.set()

    async def _handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        if malformed_click(req.type, req.payload):
            log.warning("acknowledged a malformed block_actions payload")
            await _ack(client, req)
            self._followups.keep(asyncio.ensure_future(self._on_malformed(req.payload)))
            return
        request = AsyncBoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        response = await acknowledged(self.app, request, req.type)
        await send_async_response(client, req, response, 0.0)

    async def drain(self, timeout: float) -> int:
        """Until every envelope received so far is acked and none arrived for ``QUIET_S``, at most ``timeout``
        seconds; returns how many were left unacked."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            unacked = self._handling + self.client.message_queue.qsize()
            quiet_for = loop.time() - self._last_received
            if not unacked and quiet_for >= QUIET_S:
                return 0
            left = end - loop.time()
            if left <= 0:
                return unacked
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left if unacked else min(left, QUIET_S - quiet_for)):
                    await self._changed.wait()

    async def finish_listeners(self, timeout: float) -> int:
        """Wait up to ``timeout`` for listeners still working after their ack; cancel the rest and return how many
        there were."""
        return await self._followups.finish(timeout)

    async def close_async(self, timeout: float = 1.0) -> None:
        """Close the connection (no reconnect), waiting at most ``timeout`` for Slack to answer the close."""
        client = self.client
        client.closed = True
        client.auto_reconnect_enabled = False
        try:
            async with asyncio.timeout(timeout):
                await client.disconnect()  # type: ignore[no-untyped-call]
        except TimeoutError:
            log.warning("Socket Mode did not close within %.1f s; dropping the connection", timeout)
        tasks = [client.message_processor, client.current_session_monitor, client.message_receiver]
        running = [task for task in tasks if task is not None and not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=0.1)
        await client.aiohttp_client_session.close()

    async def connected(self) -> bool:
        """Whether the Socket Mode connection is up (``/healthz``)."""
        return bool(await self.client.is_connected())

    async def shutdown(self, acks_s: float, close_s: float, listeners_s: float) -> list[str]:
        """Ack what was received, close the connection, then let listeners finish what they do after their ack;
        returns what was left undone, in words."""
        left = []
        unacked = await self.drain(acks_s)
        if unacked:
            left.append(f"Socket Mode: {unacked} envelope(s) not acked within {acks_s:.1f} s (Slack redelivers events)")
        await self.close_async(close_s)
        cut = await self.finish_listeners(listeners_s)
        if cut:
            left.append(f"Socket Mode: {cut} listener(s) cut short after their ack")
        return left

    async def _received(self, message: object) -> None:
        self._last_received = asyncio.get_running_loop().time()
        self._changed.set()


async def _ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
