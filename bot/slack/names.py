"""People's names for the agent: a reply's ``<@U…>`` mentions become ``@name`` (``users.info``, scope
``users:read``, Tier 4), cached for the process. An unknown or unreadable user stays ``@U…``: readable enough."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

LOOKUP_S = 2.0
_CACHE_LIMIT = 5000


class UserNames:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        wanted = set(user_ids)
        for user_id in wanted - self._names.keys():
            name = await self._lookup(user_id)
            if name:
                if len(self._names) >= _CACHE_LIMIT:
                    self._names.clear()
                self._names[user_id] = name
        return {user_id: self._names[user_id] for user_id in wanted if user_id in self._names}

    async def _lookup(self, user_id: str) -> str:
        try:
            async with asyncio.timeout(LOOKUP_S):
                answer = await self._client.users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("no name for %s (%s)", user_id, type(exc).__name__)
            return ""
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        return str(profile.get("display_name") or profile.get("real_name") or user.get("name") or "")
