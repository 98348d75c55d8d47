"""Background work that every replica runs, with no leader: each step is idempotent and atomic in Redis.

A round every ``sweep_interval_s``: expire pending approvals whose deadline passed while nobody waited for them,
re-report decisions whose card does not show them yet (``reconciler.py``), trim the audit past its retention and,
with ``AUDIT_HMAC_KEY``, seal it (``sealing.py``), and every ``resync_interval_s`` re-read the records of all local
waiters (pub/sub keeps nothing for a subscriber that was away). Closing seals once more, so a bot stopped cleanly
leaves nothing unsealed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.approvals import keys
from bot.approvals.connection import TRANSIENT
from bot.approvals.errors import UnknownApproval
from bot.approvals.models import Approval, as_text
from bot.approvals.sealing import Sealer
from bot.approvals.settings import StoreSettings
from bot.approvals.subscriber import DecisionSubscriber
from bot.approvals.tasks import stop

if TYPE_CHECKING:
    from bot.approvals.store import ApprovalStore

log = logging.getLogger(__name__)

FINAL_SEAL_S = 0.25
"""How long closing may spend sealing what the last round left."""


class Maintenance:
    def __init__(self, store: ApprovalStore, subscriber: DecisionSubscriber, settings: StoreSettings) -> None:
        self._store = store
        self._subscriber = subscriber
        self._settings = settings
        self._sealer = Sealer(store.redis, settings)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="approval-maintenance")

    async def aclose(self) -> None:
        self._stopping = True  # redis-py can swallow a cancellation (see connection.raise_if_cancelled)
        if self._task is not None:
            await stop(self._task)
            self._task = None
            if self._settings.audit_hmac_key is not None:
                try:
                    async with asyncio.timeout(FINAL_SEAL_S):
                        await self._sealer.run()
                except (TimeoutError, *TRANSIENT) as exc:
                    log.warning("the audit was not sealed on closing (%r); the next replica to run seals it", exc)

    async def expire_due(self, limit: int = 100) -> list[Approval]:
        """Expire up to ``limit`` overdue pending approvals per bucket; those this call expired."""
        redis = self._store.redis
        now_s, now_us = await redis.time()
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        pipe = redis.pipeline(transaction=False)
        for tag in keys.all_buckets():
            pipe.zrangebyscore(keys.pending_key(tag), "-inf", now_ms, start=0, num=limit)
        expired: list[Approval] = []
        for ids in await pipe.execute():
            for approval_id in ids:
                try:
                    result = await self._store.expire(as_text(approval_id))
                except UnknownApproval:
                    continue  # its record already expired from Redis; the script dropped it from the index
                if result.status == "expired":
                    expired.append(result.record())
        return expired

    async def report_unshown(self, limit: int = 100) -> list[Approval]:
        """Claim due decisions whose card does not show them and hand them to the transition listeners."""
        claimed = await self._store.reconciler.claim_due(limit)
        for approval in claimed:
            log.info("re-reporting approval %s (%s): its card does not show it yet", approval.id, approval.state)
            await self._store.report(approval)
        return claimed

    async def seal_audit(self) -> int:
        """Trim the audit past its retention; with the key, seal what was appended. Buckets sealed."""
        return await self._sealer.run()

    async def _run(self) -> None:
        interval = self._settings.sweep_interval_s
        every = max(1, round(self._settings.resync_interval_s / interval))
        rounds = 0
        while not self._stopping:
            await asyncio.sleep(interval)
            rounds += 1
            try:
                expired = await self.expire_due()
                if expired:
                    log.info("expired %d orphaned approval(s)", len(expired))
                await self.report_unshown()
                await self._sealer.run()
                if rounds % every == 0:
                    await self._subscriber.resync()
            except TRANSIENT as exc:
                log.warning("approval maintenance skipped a round: %s", exc)
            except Exception:
                log.exception("approval maintenance round failed")
