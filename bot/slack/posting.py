"""Posting into a channel the way Slack allows it: one message at a time per channel, waiting out rate limits,
and never two copies of one card.

Slack lets an app post "1 message per second to a specific channel" with short bursts, and answers more with
HTTP 429 and ``Retry-After`` (docs.slack.dev/apis/web-api/rate-limits). slack-sdk's rate-limit handler gives up
after a fixed number of retries, which lost cards when ten arrived at once; here posts to one channel queue behind
each other and a 429 is waited out for as long as the caller's deadline allows.

A post whose answer was lost (a dropped connection, a 5xx) may have been made. A card carries its approval id in
message ``metadata``; before posting it again, the channel's recent history is searched for it, so one approval
never has two live cards. (The web client used here must have no retry handlers of its own: they re-send blindly.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CARD_EVENT = "approval_card"
"""``metadata.event_type`` of every approval card; ``event_payload.approval_id`` says which approval."""

_BACKOFF_CAP_S = 5.0
_HISTORY_PAGE = 100


class PostFailed(Exception):
    """Slack refused the post (not a rate limit), or the deadline passed before it could be made."""


class ChannelPoster:
    def __init__(self, client: AsyncWebClient, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, channel: str) -> asyncio.Lock:
        return self._locks.setdefault(channel, asyncio.Lock())

    async def post(self, *, deadline: float, look_first: bool = False, **message: Any) -> dict[str, Any]:
        """``chat.postMessage`` with ``message``, retried through rate limits and faults until ``deadline``
        (epoch seconds). If ``message`` carries card ``metadata``, a retry (and, with ``look_first``, the first
        try) looks for the card in the channel first."""
        channel = str(message["channel"])
        approval_id = _approval_id(message.get("metadata"))
        maybe_posted = look_first
        backoff = 0.5
        async with self._lock(channel):
            while True:
                if maybe_posted and approval_id is not None:
                    found = await self._find_card(channel, approval_id, since=deadline_start(message))
                    if found is not None:
                        log.info("card of approval %s was posted before its answer was lost", approval_id)
                        return {"channel": channel, "ts": found}
                try:
                    response = await self.client.chat_postMessage(**message)
                    return dict(response.data) if isinstance(response.data, dict) else {}
                except SlackApiError as exc:
                    status = exc.response.status_code
                    if status == 429:
                        wait = _retry_after(exc)
                    elif status >= 500:
                        maybe_posted, wait = True, backoff
                    else:
                        raise PostFailed(str(exc.response.get("error") or status)) from exc
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("posting to %s failed (%s); retrying", channel, type(exc).__name__)
                    maybe_posted, wait = True, backoff
                backoff = min(backoff * 2, _BACKOFF_CAP_S)
                if self._clock() + wait > deadline:
                    raise PostFailed("the deadline passed before Slack accepted the message")
                await asyncio.sleep(wait)

    async def card_at(self, channel: str, ts: str) -> str | None:
        """The approval id carried by the card at (``channel``, ``ts``), if that message is a card."""
        history = await self.client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, include_all_metadata=True, limit=1
        )
        for found in history.get("messages") or []:
            if found.get("ts") == ts:
                return _approval_id(found.get("metadata"))
        return None

    async def _find_card(self, channel: str, approval_id: str, since: float) -> str | None:
        """The ts of the card for ``approval_id`` posted in ``channel`` since ``since``, if Slack has it."""
        try:
            history = await self.client.conversations_history(
                channel=channel, oldest=f"{since:.6f}", include_all_metadata=True, limit=_HISTORY_PAGE
            )
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not look for an earlier copy of card %s: %s", approval_id, type(exc).__name__)
            raise PostFailed("could not check whether the card was already posted") from exc
        for found in history.get("messages") or []:
            if _approval_id(found.get("metadata")) == approval_id:
                return str(found["ts"])
        return None


def card_metadata(approval_id: str, created_ms: int) -> dict[str, Any]:
    return {"event_type": CARD_EVENT, "event_payload": {"approval_id": approval_id, "created_ms": created_ms}}


def deadline_start(message: dict[str, Any]) -> float:
    """When the card's approval was created (epoch seconds), so the history search starts there."""
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return max(0.0, int(payload.get("created_ms") or 0) / 1000 - 1)


def _approval_id(metadata: object) -> str | None:
    if not isinstance(metadata, dict) or metadata.get("event_type") != CARD_EVENT:
        return None
    payload = metadata.get("event_payload")
    value = payload.get("approval_id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers or {}
    raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
    if isinstance(raw, list):
        raw = raw[0] if raw else "1"
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 1.0
