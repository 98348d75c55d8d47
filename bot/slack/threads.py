"""What a card's thread has seen, shared by every replica: whether someone asked for changes, and whom the bot
already told that their reply does not count.

People discuss in a card's thread ("@bob thoughts?"), so a reply is revision feedback only once someone clicked
Revise on that card, or when it mentions the bot. These markers live in Redis (any replica may receive the click,
and another the reply) and expire with the card's record.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.approvals import keys

_PREFIX = f"{keys.PREFIX}:thread"


class ThreadMarks:
    def __init__(self, redis: aioredis.Redis, ttl_s: float) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)

    async def ask_revision(self, approval_id: str, user: str) -> str | None:
        """Record that ``user`` asked for changes; None if they are the first, else who asked first."""
        key = f"{_PREFIX}:revise:{approval_id}"
        first = await self._redis.set(key, user, nx=True, px=self._ttl_ms)
        if first:
            return None
        asked = await self._redis.get(key)
        return str(asked) if asked is not None else None

    async def revision_asked(self, approval_id: str) -> bool:
        return bool(await self._redis.exists(f"{_PREFIX}:revise:{approval_id}"))

    async def first_telling(self, approval_id: str, user: str) -> bool:
        """True the first time this is asked for (``approval_id``, ``user``): tell a non-approver once per card."""
        key = f"{_PREFIX}:told:{approval_id}:{user}"
        return bool(await self._redis.set(key, 1, nx=True, px=self._ttl_ms))
