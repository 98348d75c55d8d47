"""Claiming a Slack delivery once, across replicas, whatever redis-py re-sends.

Slack redelivers an event or an interaction when it did not see the ack in time; any replica may receive the
copy. ``SET key 1 NX EX`` marks the first delivery, but when its reply is lost (a stall, a timeout) redis-py sends
it again and the re-sent command finds the key it set itself: the first delivery looks like a redelivery and is
dropped. Here the key holds a nonce unique to this call, so a re-sent call recognises its own claim.
Runs on Redis 6.2+ and on fakeredis with Lua.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.connection import EngineScript
from bot.approvals.transitions import new_nonce

CLAIM = """
-- KEYS: seen key; ARGV: nonce, ttl_s. Returns 1 if this call (or a re-send of it) holds the claim, else 0.
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if holder == ARGV[1] then return 1 end
return 0
"""


async def claim_delivery(redis: aioredis.Redis, delivery_id: str, ttl_s: int, *, nonce: str | None = None) -> bool:
    """True for the first delivery of ``delivery_id`` seen by any replica within ``ttl_s``, False for a copy.

    Re-sends of this call (redis-py's retries) answer as the first did. Pass your own ``nonce`` to retry the
    same claim yourself (for example after an ``asyncio.timeout``): a retry with the same nonce answers True.
    Raises redis-py's ``ConnectionError`` / ``TimeoutError`` when Redis is unavailable.
    """
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    script = EngineScript(redis, CLAIM)
    claimed = await script(keys=[keys.seen_key(delivery_id)], args=[nonce or new_nonce(), int(ttl_s)])
    return bool(int(claimed))
