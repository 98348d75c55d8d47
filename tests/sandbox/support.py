"""Shapes and helpers shared by the emulator's tests (fixtures are in ``conftest.py`` beside them)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from bot.slack.scopes import REQUIRED_SCOPES

# The manifest's scopes plus the ones this session's bot adds (im:write, users:read, usergroups:read) and the
# im ones; chat:write.public stays off. The emulator's own tests use every method it serves.
SANDBOX_SCOPES = REQUIRED_SCOPES | {"im:write", "im:read", "im:history", "users:read", "usergroups:read", "commands"}
TS = re.compile(r"^\d{10}\.\d{6}$")
BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Approve* the draft?"}},
    {
        "type": "actions",
        "block_id": "approval_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "approval_approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "apr_7f3c",
            },
            {
                "type": "button",
                "action_id": "approval_cancel",
                "text": {"type": "plain_text", "text": "Cancel"},
                "style": "danger",
                "value": "apr_7f3c",
            },
        ],
    },
]


Connect = Callable[..., Awaitable[AsyncSocketModeHandler]]


def new_app(slack: SlackEmulator) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url))


async def next_item(queue: asyncio.Queue[Any], timeout: float = 5) -> Any:
    async with asyncio.timeout(timeout):
        return await queue.get()


def command_app(slack: SlackEmulator, field: str = "text") -> tuple[AsyncApp, asyncio.Queue[str]]:
    """An app whose ``/agent-task`` listener acks and queues each command's ``field``."""
    app = new_app(slack)
    seen: asyncio.Queue[str] = asyncio.Queue()

    @app.command("/agent-task")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack()
        await seen.put(command[field])

    return app, seen
