"""Redelivered requests: Slack retries an Events API delivery it thinks failed, and a replica may get an envelope
another one already handled. Each request is claimed once in Redis by its delivery id (the event id, else the
trigger id), after the ack: acks never wait on Redis.

The claim is idempotent per caller (a retried claim whose first reply was lost still counts as this caller's), and
bounded in time: when Redis cannot answer, the request goes through. The engine records each decision once anyway,
so letting a rare duplicate through is safe where dropping a first delivery would lose a click.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.approvals.deliveries import claim_delivery

log = logging.getLogger(__name__)

SEEN_TTL_S = 24 * 3600
CLAIM_PATIENCE_S = 5.0


def delivery_id(body: dict[str, Any]) -> str | None:
    """What stays the same when Slack delivers one request twice: the event id, else the trigger id."""
    for field in ("event_id", "trigger_id"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return value
    return None


class Redeliveries:
    def __init__(self, redis: aioredis.Redis, *, patience_s: float = CLAIM_PATIENCE_S) -> None:
        self._redis = redis
        self._patience_s = patience_s

    async def first(self, body: dict[str, Any]) -> bool:
        """True unless this request was already claimed by this or another replica."""
        seen = delivery_id(body) if isinstance(body, dict) else None
        if seen is None:
            return True
        try:
            async with asyncio.timeout(self._patience_s):
                first = await claim_delivery(self._redis, seen, SEEN_TTL_S)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not check for a redelivery of %s (%s); handling it", seen, type(exc).__name__)
            return True
        if not first:
            log.info("dropped a redelivered request %s", seen)
        return first
