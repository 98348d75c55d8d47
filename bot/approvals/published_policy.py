"""The policy the running bots publish to Redis, so an asker outside them is judged by the same rules.

A bot publishes, when it starts, the YAML document of its policy, the policy's digest, its default for
self-approval (``SELF_APPROVAL``) and a fresh revision id; the last bot to start wins, as with standing approvals.
There is one copy per bucket (``keys.policy_key``), so the CREATE script reads, in the slot of the record it creates,
whether the revision an asker worked the terms out under is still the published one: an asker never creates an
approval under a policy the bots no longer publish (``requests.py`` retries under the new one).

Every copy lives ``ttl_s`` (the bots' ``RETENTION``); a running bot refreshes that lifetime (``PolicyPublisher``),
re-publishing its own policy only where the copy has gone (a Redis that lost its data), so it never overwrites the
policy of a bot started after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.connection import TRANSIENT, EngineScript
from bot.approvals.models import as_text
from bot.approvals.policy import Policy, PolicyError, parse_policy
from bot.approvals.tasks import stop

log = logging.getLogger(__name__)

NONE_PUBLISHED = "none"
"""The revision an asker names when no bot has published a policy (the CREATE script checks that none was)."""

REFRESH_S = 3600.0
"""How often a running bot refreshes the copies' lifetime (well inside any ``RETENTION`` one would set)."""

_PUBLISH = """
-- KEYS: one bucket's policy copy; ARGV: mode (replace | keep), ttl_ms, rev, digest, document, self_approval, at_ms
-- 'keep' writes only where the copy is gone, and refreshes the lifetime of what is there.
if ARGV[1] == 'replace' or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'rev', ARGV[3], 'digest', ARGV[4], 'document', ARGV[5], 'self_approval', ARGV[6],
    'published_ms', ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class PublishedPolicy:
    """What a bot published: the rules (parsed again here), their revision and the default for self-approval."""

    rev: str
    policy: Policy
    self_approval: bool


async def read_published(redis: aioredis.Redis, approval_id: str) -> PublishedPolicy | None:
    """The policy published in ``approval_id``'s bucket, or None if no bot published one.

    Raises ``PolicyError`` if the document cannot be read or its digest is not the one published with it: an
    asker then refuses to ask rather than guess what the bots' rules say."""
    fields = await redis.hgetall(keys.policy_key(keys.bucket(approval_id)))
    if not fields:
        return None
    found = {as_text(k): as_text(v) for k, v in fields.items()}
    policy = parse_policy(found.get("document", ""), "the policy the bots published")
    if policy.digest != found.get("digest"):
        raise PolicyError("the policy the bots published does not match its digest; upgrade this client")
    return PublishedPolicy(found["rev"], policy, found.get("self_approval") != "deny")


class PolicyPublisher:
    """Publishes a bot's policy when it starts and keeps the copies alive while it runs."""

    def __init__(self, redis: aioredis.Redis, policy: Policy, *, self_approval: bool, ttl_s: float) -> None:
        self._redis = redis
        self._policy = policy
        self._self_approval = self_approval
        self._ttl_ms = int(ttl_s * 1000)
        self._rev = uuid.uuid4().hex
        self._script = EngineScript(redis, _PUBLISH)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def rev(self) -> str:
        return self._rev

    async def publish(self, mode: str = "replace") -> None:
        """Write this bot's policy to every bucket (``replace``), or only where a copy is gone (``keep``)."""
        args: list[str | int] = [
            mode,
            self._ttl_ms,
            self._rev,
            self._policy.digest,
            self._policy.document,
            "allow" if self._self_approval else "deny",
            int(time.time() * 1000),
        ]
        for tag in keys.all_buckets():
            await self._script(keys=[keys.policy_key(tag)], args=args)
        if mode == "replace":
            log.info(
                "published policy %s (revision %s) for askers outside the bot", self._policy.digest[:12], self._rev
            )

    async def start(self) -> None:
        await self.publish()
        every_s = min(REFRESH_S, self._ttl_ms / 4000)
        self._task = asyncio.create_task(self._refresh(every_s), name="policy-refresh")

    async def aclose(self) -> None:
        self._stopping = True  # redis-py can swallow a cancellation (see connection.raise_if_cancelled)
        await stop(self._task)
        self._task = None

    async def _refresh(self, every_s: float) -> None:
        while not self._stopping:
            await asyncio.sleep(every_s)
            try:
                await self.publish("keep")
            except TRANSIENT as exc:
                log.warning("could not refresh the published policy (%s); trying again later", type(exc).__name__)
