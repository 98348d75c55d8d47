"""Reading many pending records at once, for overviews (the App Home): every pending approval, soonest deadline
first. Reads only; bounded per bucket, whatever the number of approvals."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.models import Approval, as_text


async def pending_approvals(redis: aioredis.Redis, *, limit: int = 100) -> list[Approval]:
    """Up to ``limit`` pending approvals, soonest deadline first (from each bucket's pending index, so at most
    ``limit`` per bucket are read)."""
    pipe = redis.pipeline(transaction=False)
    for tag in keys.all_buckets():
        pipe.zrange(keys.pending_key(tag), 0, limit - 1)
    ids = [as_text(approval_id) for batch in await pipe.execute() for approval_id in batch]
    if not ids:
        return []
    pipe = redis.pipeline(transaction=False)
    for approval_id in ids:
        pipe.hgetall(keys.record_key(approval_id))
    records = await pipe.execute()
    found = [Approval.from_hash({as_text(k): as_text(v) for k, v in fields.items()}) for fields in records if fields]
    pending = sorted((a for a in found if a.pending), key=lambda a: a.deadline_ms)
    return pending[:limit]
