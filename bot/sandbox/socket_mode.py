"""The Socket Mode side: single-use tickets, WebSocket connections, hello, frames out, acks in."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.sandbox.recorder import Recorder

logger = logging.getLogger(__name__)

HOST = "applink-sandbox"
# "Socket Mode allows your app to maintain up to 10 open WebSocket connections at the same time"
# (docs.slack.dev/apis/events-api/using-socket-mode, "Multiple connections"); one more is told
# `too_many_websockets` (the reason in python-slack-sdk tests/slack_sdk/socket_mode/mock_socket_mode_server.py).
MAX_CONNECTIONS = 10


@dataclass(eq=False, slots=True)
class Connection:
    """One open WebSocket. ``draining`` once it was told to disconnect: nothing more is sent to it."""

    id: str
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    opened_at: float
    draining: bool = False


class SocketHub:
    """Accepts app connections on ``/link/?ticket=...`` and sends them frames."""

    def __init__(self, app_id: str, recorder: Recorder, on_ack: Callable[[dict[str, Any]], None]) -> None:
        self.app_id = app_id
        self.recorder = recorder
        self.on_ack = on_ack
        self._tickets: set[str] = set()
        self._open: dict[str, Connection] = {}
        self._ids = itertools.count(1)
        self.refused: list[str] = []  # connections told too_many_websockets
        self._turn = itertools.count()

    def issue_ticket(self) -> str:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return ticket

    @property
    def open(self) -> list[Connection]:
        return list(self._open.values())

    def get(self, connection_id: str) -> Connection:
        try:
            return self._open[connection_id]
        except KeyError:
            raise LookupError(f"no open connection {connection_id!r}; open: {list(self._open)}") from None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(timeout=2.0)  # autoping: PINGs get PONGs with the same payload
        transport = request.transport
        await ws.prepare(request)
        conn = Connection(f"conn-{next(self._ids)}", ws, transport, time.time())
        if len(self._open) >= MAX_CONNECTIONS:
            return await self._refuse(conn)
        self._open[conn.id] = conn
        logger.debug("socket %s opened", conn.id)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._open),
                    "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
            self.recorder.changed()
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._receive(str(message.data))
        except ConnectionError as exc:
            logger.debug("socket %s ended: %r", conn.id, exc)
        finally:
            self._open.pop(conn.id, None)
            self.recorder.changed()
            logger.debug("socket %s closed", conn.id)
        return ws

    async def _refuse(self, conn: Connection) -> web.WebSocketResponse:
        """Over the limit: ``disconnect`` with ``too_many_websockets``, then wait for the client to go."""
        conn.draining = True
        self.refused.append(conn.id)
        logger.debug("socket %s refused: too many websockets", conn.id)
        try:
            await conn.ws.send_json(
                {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": HOST}}
            )
            self.recorder.changed()
            async for _ in conn.ws:
                pass
        except ConnectionError:
            pass
        return conn.ws

    async def disconnect_all(self, reason: str) -> None:
        """``disconnect`` every open connection (``link_disabled`` when Socket Mode is switched off)."""
        self._tickets.clear()
        for conn in list(self._open.values()):
            if not conn.draining:
                await self.disconnect(conn.id, reason)

    def _receive(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if isinstance(frame, dict) and isinstance(frame.get("envelope_id"), str):
            self.on_ack(frame)
        else:
            logger.warning("the app sent a frame that is not an ack: %.200s", text)
            self.recorder.record_frame(text)

    async def pick(self, connection_id: str | None, timeout: float) -> Connection:
        """The given connection, or the next usable one in turn (waiting up to ``timeout`` for one)."""
        if connection_id is not None:
            return self.get(connection_id)

        def usable() -> list[Connection]:
            return [c for c in self._open.values() if not c.draining and not c.ws.closed]

        candidates = await self.recorder.wait_for(usable, timeout, "an open Socket Mode connection")
        return candidates[next(self._turn) % len(candidates)]

    async def send(self, conn: Connection, text: str) -> None:
        await conn.ws.send_str(text)

    async def disconnect(self, connection_id: str, reason: str) -> None:
        conn = self.get(connection_id)
        conn.draining = True
        await conn.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": HOST}})
        self.recorder.changed()

    async def drop(self, connection_id: str, *, abrupt: bool) -> None:
        conn = self.get(connection_id)
        conn.draining = True
        if abrupt and conn.transport is not None:
            conn.transport.abort()
        else:
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"dropped")

    async def close_all(self) -> None:
        self._tickets.clear()
        conns = list(self._open.values())
        for conn in conns:
            conn.draining = True
        await asyncio.gather(
            *(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for c in conns),
            return_exceptions=True,
        )
