"""Builds the Bolt app: the web clients, and the listeners in the order Bolt matches them."""

from __future__ import annotations

import logging
import re

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.slack.allowing import Allowing
from bot.slack.editing import Editing
from bot.slack.listeners import Listeners
from bot.slack.scopes import SLASH_COMMAND

log = logging.getLogger(__name__)


def web_client(token: str, base_url: str, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """slack-sdk's client with its own retry handlers for rate limits, connection errors and 5xx answers.

    Fit for calls that are safe to repeat (updates, lookups, private answers); cards use ``card_client``.
    ``session``: without one, slack-sdk opens (and closes) an aiohttp session, so a new connection and TLS
    handshake, for every call; the service gives every client one session for the process.
    """
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def card_client(token: str, base_url: str, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """A client with no retry handlers: a ``chat.postMessage`` re-sent blindly after a lost answer can post a
    second live card. ``bot.slack.posting`` retries cards itself, looking before it posts again."""
    return AsyncWebClient(token=token, base_url=base_url, session=session, retry_handlers=[])


def build_app(
    client: AsyncWebClient, listeners: Listeners, editing: Editing | None = None, allowing: Allowing | None = None
) -> AsyncApp:
    """``editing``: the Edit button and its modal; ``allowing``: standing approvals (without them, their buttons
    answer as unknown ones)."""
    app = AsyncApp(client=client, raise_error_for_unhandled_request=True)
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
    app.error(listeners.on_error)
    return app
