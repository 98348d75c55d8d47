"""The stream of card requests: how an asker outside the bots gets its approval's card posted by one of them.

An asker appends the approval's id to one Redis Stream (``keys.CARD_REQUESTS``). Every bot replica reads it in one
consumer group (``keys.CARD_POSTERS``), so each entry goes to one replica; entries appended while no replica runs
wait in the stream for the first that starts (the group starts from the stream's beginning). A replica that dies
holding entries leaves them pending in the group: after ``lease_s`` another takes them over (``XAUTOCLAIM``).

A consumer group delivers at least once (a takeover, the same request appended twice), so before posting a replica
claims the posting on the record itself (``CLAIM_POSTING``, atomic): only a pending approval without a card is
claimed, and by one replica at a time for ``lease_s``. The entry is acknowledged (and deleted) once the card is
recorded, or once there is nothing to post.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.approvals import keys
from bot.approvals.connection import EngineScript
from bot.approvals.models import as_text

log = logging.getLogger(__name__)

CLAIM_SHARE = 0.9
"""Of ``lease_s``: how long a posting claim lasts. Shorter than the idle time after which another replica takes a
request over, so the claim of the replica it was taken from has lapsed by then."""
FORGET_AFTER_MS = 24 * 3600 * 1000
MAX_ENTRIES = 100_000
"""The stream is trimmed (approximately) to this many entries; handled ones are deleted as they are acked."""

CLAIM_POSTING = """
-- KEYS: record; ARGV: id, consumer, lease_ms.
-- Claims the posting of a pending approval's card for one consumer, for lease_ms. Returns
-- claimed (nobody had it) | taken_over (another consumer had it, and its lease lapsed: it may have posted) |
-- busy (another consumer holds it; ms left as 2nd value) | posted (it has a card) | decided | missing.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'state', 'ts', 'poster', 'poster_until')
if not f[1] then return {'missing'} end
if f[1] ~= 'pending' then return {'decided'} end
if f[2] and f[2] ~= '' then return {'posted'} end
local held = f[3] and f[3] ~= ''
if held and f[3] ~= ARGV[2] and tonumber(f[4]) > now then
  return {'busy', string.format('%d', tonumber(f[4]) - now)}
end
redis.call('HSET', KEYS[1], 'poster', ARGV[2], 'poster_until', string.format('%d', now + tonumber(ARGV[3])))
if held then return {'taken_over'} end
return {'claimed'}
"""


class Claim(StrEnum):
    CLAIMED = "claimed"
    TAKEN_OVER = "taken_over"
    """Post, but look for a card posted by the replica that held it first."""
    BUSY = "busy"
    POSTED = "posted"
    DECIDED = "decided"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class CardRequest:
    entry_id: str
    approval_id: str
    channel: str = ""
    """The approvals channel the asker expects the card in ("" for the bot's own)."""


class CardStream:
    def __init__(
        self, redis: aioredis.Redis, *, lease_s: float = 30.0, ttl_s: float = keys.DEFAULT_RETENTION_S
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self._redis = redis
        self.lease_s = lease_s
        self._ttl_ms = int(ttl_s * 1000)
        self._claim = EngineScript(redis, CLAIM_POSTING)
        self._cursor = "0-0"
        """Where the next ``take_over`` scans the pending list from."""

    async def request(self, approval_id: str, channel: str = "") -> str:
        """Ask the running bots (or the next to start) to post ``approval_id``'s card; the entry's id."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(keys.CARD_REQUESTS, {"id": approval_id, "channel": channel}, maxlen=MAX_ENTRIES, approximate=True)
        pipe.pexpire(keys.CARD_REQUESTS, self._ttl_ms)
        entry_id, _ = await pipe.execute()
        return as_text(entry_id)

    async def join(self) -> None:
        """Create the consumer group (from the stream's first entry) unless it exists, and forget the consumers
        of replicas gone for a day that hold nothing (each start of a replica is a consumer of its own)."""
        try:
            await self._redis.xgroup_create(keys.CARD_REQUESTS, keys.CARD_POSTERS, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        await self._redis.pexpire(keys.CARD_REQUESTS, self._ttl_ms, nx=True)
        for consumer in await self._redis.xinfo_consumers(keys.CARD_REQUESTS, keys.CARD_POSTERS):
            if int(consumer["pending"]) == 0 and int(consumer["idle"]) > FORGET_AFTER_MS:
                await self._redis.xgroup_delconsumer(keys.CARD_REQUESTS, keys.CARD_POSTERS, consumer["name"])

    async def take(self, consumer: str, *, count: int = 10, block_s: float = 1.0) -> list[CardRequest]:
        """Entries no replica was given yet, waiting up to ``block_s`` (above 0: ``BLOCK 0`` would wait forever)
        for one. A group that has gone (the stream expired, Redis lost its data) is created again."""
        if block_s <= 0:
            raise ValueError("block_s must be positive")
        try:
            reply = await self._redis.xreadgroup(
                keys.CARD_POSTERS, consumer, {keys.CARD_REQUESTS: ">"}, count=count, block=int(block_s * 1000)
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.join()
            return []
        return [entry for _stream, entries in _streams(reply) for entry in _entries(entries)]

    async def take_over(self, consumer: str, *, count: int = 10) -> list[CardRequest]:
        """Entries given to a replica ``lease_s`` ago or more and never acked (it died, or could not post).

        One call scans at most ``10 * count`` entries of the group's pending list and answers where to go on
        (redis.io/docs/latest/commands/XAUTOCLAIM), so successive calls walk the whole list, then start over."""
        try:
            reply = await self._redis.xautoclaim(
                keys.CARD_REQUESTS, keys.CARD_POSTERS, consumer, int(self.lease_s * 1000), self._cursor, count=count
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.join()
            return []
        self._cursor = as_text(reply[0])
        return list(_entries(reply[1]))

    async def claim(self, approval_id: str, consumer: str) -> Claim:
        reply = await self._claim(
            keys=[keys.record_key(approval_id)], args=[approval_id, consumer, int(self.lease_s * CLAIM_SHARE * 1000)]
        )
        return Claim(as_text(reply[0]))

    async def done(self, request: CardRequest) -> None:
        """Acknowledge and delete the entry: nothing more is to be done for it."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.xack(keys.CARD_REQUESTS, keys.CARD_POSTERS, request.entry_id)
        pipe.xdel(keys.CARD_REQUESTS, request.entry_id)
        await pipe.execute()


def _streams(reply: Any) -> list[tuple[Any, Any]]:
    """XREADGROUP's reply as (stream, entries) pairs: a list under RESP2, a mapping under RESP3."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(reply.items())
    return [(stream, entries) for stream, entries in reply]


def _entries(entries: Any) -> list[CardRequest]:
    found = []
    for entry_id, fields in entries or []:
        if not fields:  # deleted while pending
            continue
        values = {as_text(k): as_text(v) for k, v in fields.items()}
        found.append(CardRequest(as_text(entry_id), values.get("id", ""), values.get("channel", "")))
    return found
