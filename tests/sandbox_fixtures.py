"""Fixtures and helpers shared by the emulator's tests (tests/test_sandbox_*.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from bot.slack.scopes import REQUIRED_SCOPES

# The manifest's scopes plus the ones this session's bot adds (im:write, users:read, usergroups:read) and the
# im ones; chat:write.public stays off. The emulator's own tests use every method it serves.
SANDBOX_SCOPES = REQUIRED_SCOPES | {"im:write", "im:read", "im:history", "users:read", "usergroups:read", "commands"}
TS = re.compile(r"^\d{10}\.\d{6}$")
BUTTONS = [
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


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack-sdk applies these to localhost too (it never reads NO_PROXY)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
def alice(slack: SlackEmulator) -> str:
    return slack.add_user("alice")


@pytest.fixture
def approvals(slack: SlackEmulator, alice: str) -> str:
    return slack.add_channel("approvals", members=[slack.bot_user_id, alice])


Connect = Callable[..., Awaitable[AsyncSocketModeHandler]]


@pytest.fixture
async def connect(slack: SlackEmulator) -> AsyncIterator[Connect]:
    """Connect a real AsyncSocketModeHandler for an AsyncApp (built inside the running loop)."""
    handlers: list[AsyncSocketModeHandler] = []

    async def _connect(app: AsyncApp, **kwargs: Any) -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(app, slack.app_token, **kwargs)
        handlers.append(handler)
        await handler.connect_async()
        return handler

    yield _connect
    for handler in handlers:
        await handler.close_async()


def new_app(slack: SlackEmulator) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url))


async def next_item(queue: asyncio.Queue[Any], timeout: float = 5) -> Any:
    async with asyncio.timeout(timeout):
        return await queue.get()
