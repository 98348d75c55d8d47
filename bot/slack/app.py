"""Builds the Bolt app: the web clients, and the listeners in the order Bolt matches them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack import blocks
from bot.slack.allowing import Allowing
from bot.slack.blocks.home import FEEDBACK_CALLBACK
from bot.slack.editing import Editing
from bot.slack.listeners import Listeners
from bot.slack.scopes import SLASH_COMMAND

log = logging.getLogger(__name__)


ApiErrors = Callable[[str, str], None]
"""Told of every Web API call that failed: (method, Slack's error or the failure's kind)."""


class CountingWebClient(AsyncWebClient):
    """slack-sdk's client, telling ``on_error`` of each failed call (for metrics) before the failure propagates."""

    def __init__(self, *args: Any, on_error: ApiErrors | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_error = on_error

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._failed(api_method, str(exc.response.get("error") or exc.response.status_code))
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._failed(api_method, type(exc).__name__)
            raise

    def _failed(self, method: str, error: str) -> None:
        if self._on_error is not None:
            self._on_error(method, error)


def web_client(
    token: str, base_url: str, session: aiohttp.ClientSession | None = None, on_error: ApiErrors | None = None
) -> AsyncWebClient:
    """slack-sdk's client with its own retry handlers for rate limits, connection errors and 5xx answers.

    Fit for calls that are safe to repeat (updates, lookups, private answers); cards use ``card_client``.
    ``session``: without one, slack-sdk opens (and closes) an aiohttp session, so a new connection and TLS
    handshake, for every call; the service gives every client one session for the process.
    """
    return CountingWebClient(
        token=token,
        base_url=base_url,
        session=session,
        on_error=on_error,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def card_client(
    token: str, base_url: str, session: aiohttp.ClientSession | None = None, on_error: ApiErrors | None = None
) -> AsyncWebClient:
    """A client with no retry handlers: a ``chat.postMessage`` re-sent blindly after a lost answer can post a
    second live card. ``bot.slack.posting`` retries cards itself, looking before it posts again."""
    return CountingWebClient(token=token, base_url=base_url, session=session, retry_handlers=[], on_error=on_error)


AppBuilder = Callable[..., AsyncApp]
"""``build_app`` with its listeners given, waiting for the transport's ``signing_secret=``."""


def build_app(
    client: AsyncWebClient,
    listeners: Listeners,
    editing: Editing | None = None,
    allowing: Allowing | None = None,
    *,
    signing_secret: str = "",
) -> AsyncApp:
    """``editing``: the Edit button and its modal; ``allowing``: standing approvals (without them, their buttons
    answer as unknown ones). ``signing_secret``: for Bolt's own check of HTTP requests (without it Bolt reads
    ``os.environ``, which misses a secret that came from ``.env``); Socket Mode requests skip that check."""
    app = AsyncApp(client=client, raise_error_for_unhandled_request=True, signing_secret=signing_secret)
    app.command(SLASH_COMMAND)(listeners.on_agent_task)
    if allowing is not None:
        for action_id in blocks.ALLOW_ACTIONS:
            app.action(action_id)(allowing.on_allow)
        app.action(blocks.ACTION_REVOKE)(allowing.on_revoke)
    if editing is not None:
        app.action(blocks.ACTION_EDIT)(editing.on_edit)
        app.view(blocks.EDIT_CALLBACK)(editing.on_edit_submit)
    for action_id in (blocks.ACTION_APPROVE, blocks.ACTION_CANCEL):
        app.action(action_id)(listeners.on_decision)
    app.action(blocks.ACTION_REVISE)(listeners.on_revise)
    app.action(blocks.ACTION_APPROVE_ALL)(listeners.on_approve_all)
    app.action(blocks.ACTION_ASK_AGAIN)(listeners.on_ask_again)
    app.action(re.compile(".*"))(listeners.on_unknown_action)
    app.event("message")(listeners.on_message)
    if listeners.home is not None:  # App Home: published when opened; Revise there asks in a modal
        app.event("app_home_opened")(listeners.home.on_app_home_opened)
        app.view(FEEDBACK_CALLBACK)(listeners.home.on_feedback_submit)
    app.error(listeners.on_error)
    return app
