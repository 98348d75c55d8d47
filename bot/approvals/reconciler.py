"""Finds decided approvals whose card does not show the decision yet, for any replica to report again.

TRANSITION (and ATTACH, for a card attached to an approval decided already) adds the approval to its bucket's
unshown index, due after a grace period; ``mark_shown`` removes it once the card shows the state. An entry still
there when due means the process that decided lost its reply, failed to update the card, or died. A replica that
finds it claims it for a lease (CLAIM_UNSHOWN pushes its score forward, so one replica at a time handles it) and
hands the record to its transition listeners; the entry stays until ``mark_shown`` lands, so a failed update is
tried again when the lease runs out (the lease doubles with each attempt).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.approvals import keys, scripts
from bot.approvals.connection import EngineScript
from bot.approvals.models import Approval, as_text
from bot.approvals.settings import StoreSettings
from bot.approvals.transitions import pairs


class CardReconciler:
    def __init__(self, redis: aioredis.Redis, settings: StoreSettings) -> None:
        self._redis = redis
        self._settings = settings
        self._claim = EngineScript(redis, scripts.CLAIM_UNSHOWN)

    async def claim_due(self, limit: int = 100) -> list[Approval]:
        """Claim up to ``limit`` due entries per bucket; the records of those this replica now holds."""
        now_s, now_us = await self._redis.time()
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        pipe = self._redis.pipeline(transaction=False)
        for tag in keys.all_buckets():
            pipe.zrangebyscore(keys.unshown_key(tag), "-inf", now_ms, start=0, num=limit)
        lease_ms = int(self._settings.report_lease_s * 1000)
        max_lease_ms = int(self._settings.report_max_lease_s * 1000)
        claimed: list[Approval] = []
        for ids in await pipe.execute():
            for raw_id in ids:
                approval_id = as_text(raw_id)
                record = await self._claim(
                    keys=keys.card_keys_for(approval_id), args=[approval_id, lease_ms, max_lease_ms]
                )
                if record:
                    claimed.append(Approval.from_hash(pairs(record)))
        return claimed

    async def unshown(self) -> list[str]:
        """Every approval id in the unshown index, due or not (for operators and tests)."""
        pipe = self._redis.pipeline(transaction=False)
        for tag in keys.all_buckets():
            pipe.zrange(keys.unshown_key(tag), 0, -1)
        return sorted(as_text(i) for ids in await pipe.execute() for i in ids)
