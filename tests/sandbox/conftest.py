"""Fixtures of the emulator's own tests: the strict emulator with every scope its methods need."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from tests.sandbox.support import SANDBOX_SCOPES, Connect


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(scopes=SANDBOX_SCOPES) as emulator:
        yield emulator


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


@pytest.fixture
async def connect(slack: SlackEmulator) -> AsyncIterator[Connect]:
    """Connect a real AsyncSocketModeHandler for an AsyncApp (built inside the running loop)."""
    handlers: list[AsyncSocketModeHandler] = []

    async def _connect(app: AsyncApp, **kwargs: Any) -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(app, slack.app_token, **kwargs)
        handlers.append(handler)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        return handler

    yield _connect
    for handler in handlers:
        await handler.close_async()  # type: ignore[no-untyped-call]
