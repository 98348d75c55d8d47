"""The Socket Mode handler: Bolt's, made to ack every envelope.

Bolt's adapter sends no ack when dispatch raises or answers non-200 (slack-facts, pitfall 1), and Bolt raises
before any middleware runs on a ``block_actions`` payload whose ``actions`` is empty (``to_action`` indexes
``actions[0]`` while building middleware arguments). Slack then shows the person an error and, for events,
retries. Here such payloads are acked at once and answered after, and any other failure is acked too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

log = logging.getLogger(__name__)

Malformed = Callable[[dict[str, Any]], Awaitable[None]]


class AckingSocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, app: AsyncApp, app_token: str, *, on_malformed: Malformed) -> None:
        super().__init__(app, app_token)
        self._on_malformed = on_malformed
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        payload = req.payload if isinstance(req.payload, dict) else {}
        if req.type == "interactive" and payload.get("type") == "block_actions" and not well_formed_actions(payload):
            log.warning("acknowledged a malformed block_actions payload")
            await _ack(client, req)
            task = asyncio.ensure_future(self._on_malformed(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        try:
            response = await run_async_bolt_app(self.app, req)
        except Exception:
            log.exception("a %s envelope failed before any listener; acknowledging it", req.type)
            response = BoltResponse(status=200, body="")
        if response.status != 200:
            log.warning("a %s envelope was answered %s; acknowledging it", req.type, response.status)
            response = BoltResponse(status=200, body="")
        await send_async_response(client, req, response, 0.0)

    async def close_async(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().close_async()  # type: ignore[no-untyped-call]


def well_formed_actions(body: dict[str, Any]) -> bool:
    actions = body.get("actions")
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    )


async def _ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
