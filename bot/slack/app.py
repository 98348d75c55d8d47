"""Builds the Bolt app: the web client with retries, the listeners, and redelivery de-duplication."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import keys
from bot.slack import blocks
from bot.slack.listeners import Listeners
from bot.slack.scopes import SLASH_COMMAND

log = logging.getLogger(__name__)

SEEN_TTL_S = 24 * 3600


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """slack-sdk's client with its own retry handlers for rate limits, connection errors and 5xx answers."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(client: AsyncWebClient, listeners: Listeners, redis: aioredis.Redis) -> AsyncApp:
    app = AsyncApp(client=client, raise_error_for_unhandled_request=True)
    app.use(deduplicate(redis))
    app.command(SLASH_COMMAND)(listeners.on_agent_task)
    for action_id in (blocks.ACTION_APPROVE, blocks.ACTION_CANCEL):
        app.action(action_id)(listeners.on_decision)
    app.action(blocks.ACTION_REVISE)(listeners.on_revise)
    app.action(re.compile(".*"))(listeners.on_unknown_action)
    app.event("message")(listeners.on_message)
    app.error(listeners.on_error)
    return app


def delivery_id(body: dict[str, Any]) -> str | None:
    """What stays the same when Slack delivers one request twice: the event id, else the trigger id."""
    for field in ("event_id", "trigger_id"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def deduplicate(redis: aioredis.Redis) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Global middleware: a request already seen by any replica is acknowledged and dropped."""

    async def middleware(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        seen = delivery_id(body) if isinstance(body, dict) else None
        if seen is not None:
            try:
                first = await redis.set(keys.seen_key(seen), 1, nx=True, ex=SEEN_TTL_S)
            except RedisError as exc:  # let it through: the engine still records each decision once
                log.warning("could not check for a redelivery (%s)", exc)
                first = True
            if not first:
                log.info("dropped a redelivered request %s", seen)
                return BoltResponse(status=200, body="")
        await next()
        return None

    return middleware
