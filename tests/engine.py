"""Shared setup for the engine tests: stores on a URL, approvals, and Redis's clock."""

from __future__ import annotations

from bot.approvals import Approval, ApprovalKey, ApprovalStore, StoreSettings
from bot.approvals.connection import connect


async def open_store(
    url: str, settings: StoreSettings | None = None, *, maintenance: bool = False, socket_timeout_s: float = 5.0
) -> ApprovalStore:
    """A started store on its own pool."""
    store = ApprovalStore(connect(url, socket_timeout_s=socket_timeout_s), settings)
    await store.start(maintenance=maintenance)
    return store


async def close_store(store: ApprovalStore) -> None:
    await store.aclose()
    await store.redis.aclose()


async def ask(store: ApprovalStore, workflow_id: str = "wf1", step: int = 0, timeout_s: float = 60) -> Approval:
    return await store.create(
        ApprovalKey(workflow_id, step),
        prompt="Send the release email?",
        requester="U0ALICE123",
        workflow="draft",
        timeout_s=timeout_s,
    )


async def redis_now_ms(store: ApprovalStore) -> int:
    now_s, now_us = await store.redis.time()
    return int(now_s) * 1000 + int(now_us) // 1000


async def seconds_until(store: ApprovalStore, redis_ms: int) -> float:
    """Seconds from now until ``redis_ms`` on Redis's clock (the clock every deadline is kept in)."""
    return max(0.0, (redis_ms - await redis_now_ms(store)) / 1000)
