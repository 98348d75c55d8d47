"""Which approvals share a card: the calls of one model turn go on one card, and every replica must find all of
them from any one (to redraw the card after a decision, for "Approve all", for a reply in its thread).

A card of its own is not recorded here: a card's place is found from its approval (``attach_message``), and only
tool calls are ever grouped, so nothing else pays for a lookup. Entries expire with the records.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.models import as_text
from bot.prompts import MessageRef

_PREFIX = f"{keys.PREFIX}:card"


class CardGroups:
    def __init__(self, redis: aioredis.Redis, ttl_s: float) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)

    async def remember(self, ref: MessageRef, approval_ids: Sequence[str]) -> None:
        """Record that the card at ``ref`` shows ``approval_ids`` (in the card's order). Idempotent."""
        await self._redis.set(_key(ref.channel, ref.ts), ",".join(approval_ids), px=self._ttl_ms)

    async def members(self, channel: str, ts: str) -> list[str]:
        """The approvals on the card at (``channel``, ``ts``) when it holds several; [] otherwise."""
        raw = await self._redis.get(_key(channel, ts))
        return [item for item in as_text(raw).split(",") if item] if raw else []


def _key(channel: str, ts: str) -> str:
    return f"{_PREFIX}:{channel}:{ts}"
