"""The approval store: create (idempotent), decide (atomic, once), wait (push, timeout), sweep (orphans).

Redis holds the truth; this process holds only futures. Any replica may decide any approval, any replica may
sweep, and a restarted process re-attaches to its approvals by creating them again with the same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.approvals import keys, scripts
from bot.approvals.connection import raise_if_cancelled
from bot.approvals.errors import AlreadyDecided, Expired, UnknownApproval
from bot.approvals.models import Approval, ApprovalKey, Outcome, State, as_text
from bot.approvals.reads import RecordReader
from bot.approvals.subscriber import MISSING, DecisionSubscriber

log = logging.getLogger(__name__)

TransitionListener = Callable[[Approval], Awaitable[None]]
"""Called with the record after this process moved it out of ``pending`` (a decision or an expiry)."""

T = TypeVar("T")

_TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    retention_s: float = keys.DEFAULT_RETENTION_S
    audit_retention_s: float = keys.DEFAULT_AUDIT_RETENTION_S
    sweep_interval_s: float = 2.0
    resync_interval_s: float = 30.0


@dataclass(frozen=True, slots=True)
class _Transition:
    """What the TRANSITION script answered: ok | expired | already (with the record) or not_yet (ms left)."""

    status: str
    approval: Approval | None = None
    ms_left: int = 0

    def record(self) -> Approval:
        assert self.approval is not None, f"no record with status {self.status}"
        return self.approval


class ApprovalStore:
    def __init__(self, redis: aioredis.Redis, settings: StoreSettings | None = None) -> None:
        self._redis = redis
        self._settings = settings or StoreSettings()
        self._subscriber = DecisionSubscriber(redis)
        self._reader = RecordReader(redis)
        self._create = redis.register_script(scripts.CREATE)
        self._transition = redis.register_script(scripts.TRANSITION)
        self._attach = redis.register_script(scripts.ATTACH)
        self._listeners: list[TransitionListener] = []
        self._maintenance: asyncio.Task[None] | None = None

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    @property
    def subscriber(self) -> DecisionSubscriber:
        return self._subscriber

    async def start(self, *, maintenance: bool = True) -> None:
        """Subscribe to decisions; with ``maintenance``, also expire orphans and resync periodically."""
        await self._subscriber.start()
        if maintenance:
            self._maintenance = asyncio.create_task(self._maintain(), name="approval-maintenance")

    async def aclose(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        await self._reader.aclose()
        await self._subscriber.aclose()

    def on_transition(self, listener: TransitionListener) -> None:
        self._listeners.append(listener)

    async def create(
        self, key: ApprovalKey, *, prompt: str, requester: str, workflow: str, timeout_s: float
    ) -> Approval:
        """Store a pending approval, or return the existing one for the same key, decided or not."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        approval_id = key.approval_id
        created, _now, fields = await self._create(
            keys=keys.keys_for(approval_id),
            args=[
                approval_id,
                key.workflow_id,
                key.step,
                prompt,
                requester,
                workflow,
                int(timeout_s * 1000),
                int(self._settings.retention_s * 1000),
                int(self._settings.audit_retention_s * 1000),
            ],
        )
        approval = Approval.from_hash(_pairs(fields))
        log.info("approval %s %s", approval_id, "created" if created else f"re-attached ({approval.state})")
        return approval

    async def attach_message(self, approval_id: str, channel: str, ts: str) -> None:
        """Remember where the prompt was posted, so clicks and thread replies find the approval."""
        ttl_ms = await self._attach(keys=[keys.record_key(approval_id)], args=[channel, ts])
        if ttl_ms == -2:
            raise UnknownApproval(approval_id)
        px = ttl_ms if ttl_ms > 0 else int(self._settings.retention_s * 1000)
        await self._redis.set(keys.message_key(channel, ts), approval_id, px=px)

    async def get(self, approval_id: str) -> Approval | None:
        fields = await self._redis.hgetall(keys.record_key(approval_id))
        return Approval.from_hash(_decoded(fields)) if fields else None

    async def find_by_message(self, channel: str, ts: str) -> Approval | None:
        approval_id = await self._redis.get(keys.message_key(channel, ts))
        return await self.get(as_text(approval_id)) if approval_id else None

    async def decide(self, approval_id: str, outcome: Outcome, user: str, feedback: str | None = None) -> Approval:
        """Record a decision if none was made yet. Raises ``AlreadyDecided``, ``Expired`` or ``UnknownApproval``."""
        result = await self._run_transition(approval_id, outcome.value, user, feedback or "", "decide")
        approval = result.record()
        if result.status == "ok":
            return approval
        if approval.state is State.EXPIRED:
            raise Expired(approval)
        raise AlreadyDecided(approval)

    async def wait(self, approval_id: str, timeout: float | None = None) -> Approval:
        """Wait for the decision and return the decided record.

        The wait ends at the record's deadline, or after ``timeout`` seconds if that comes first; either way
        the approval is then expired atomically, unless a decision won the race. Raises ``UnknownApproval``
        when the record does not exist or vanishes from Redis while waited for.
        """
        # Register first, then read: a decision published after this line reaches the future, and one made
        # before it is in the record.
        fut = self._subscriber.register(approval_id)
        try:
            fields, now_ms = await _retrying(lambda: self._reader.read(approval_id))
            if not fields:
                raise UnknownApproval(approval_id)
            approval = Approval.from_hash(fields)
            give_up_ms = now_ms + int(timeout * 1000) if timeout is not None else approval.deadline_ms
            mode = "force" if give_up_ms < approval.deadline_ms else "expire"
            loop = asyncio.get_running_loop()
            local_end = loop.time() + (min(give_up_ms, approval.deadline_ms) - now_ms) / 1000
            while approval.pending:
                try:
                    async with asyncio.timeout_at(local_end):
                        woken = await fut
                except TimeoutError:
                    woken = None
                # A fresh future before asking Redis again, so no decision can slip between the two.
                self._subscriber.unregister(approval_id, fut)
                fut = self._subscriber.register(approval_id)
                if woken is not None:
                    approval = await self._decided(approval, woken)
                    continue
                result = await _retrying(lambda: self._run_transition(approval_id, "expired", "", "", mode))
                if result.status == "not_yet":  # our clock ran ahead of Redis's: wait the rest
                    local_end = loop.time() + result.ms_left / 1000
                    continue
                approval = result.record()
            return approval
        finally:
            self._subscriber.unregister(approval_id, fut)

    async def _decided(self, approval: Approval, woken: dict[str, str]) -> Approval:
        """The record after a wake-up: from the message's fields, or re-read after a resync."""
        if woken.get("state") == MISSING:
            raise UnknownApproval(approval.id)
        if "decided_ms" in woken:
            return replace(
                approval,
                state=State(woken["state"]),
                decider=woken["decider"],
                decided_ms=int(woken["decided_ms"]),
                feedback=woken["feedback"],
            )
        fresh = await _retrying(lambda: self.get(approval.id))
        if fresh is None:
            raise UnknownApproval(approval.id)
        return fresh

    async def expire_due(self, limit: int = 100) -> list[Approval]:
        """Expire pending approvals whose deadline has passed, whoever waits for them. Safe on every replica."""
        now_s, now_us = await self._redis.time()
        now_ms = now_s * 1000 + now_us // 1000
        pipe = self._redis.pipeline(transaction=False)
        for tag in keys.all_buckets():
            pipe.zrangebyscore(keys.pending_key(tag), "-inf", now_ms, start=0, num=limit)
        expired: list[Approval] = []
        for ids in await pipe.execute():
            for approval_id in ids:
                try:
                    result = await self._run_transition(as_text(approval_id), "expired", "", "", "expire")
                except UnknownApproval:
                    continue  # its record already expired from Redis; the script dropped it from the index
                if result.status == "expired":
                    expired.append(result.record())
        return expired

    async def _run_transition(self, approval_id: str, outcome: str, user: str, feedback: str, mode: str) -> _Transition:
        reply = await self._transition(
            keys=keys.keys_for(approval_id),
            args=[
                approval_id,
                outcome,
                user,
                feedback,
                mode,
                int(self._settings.retention_s * 1000),
                int(self._settings.audit_retention_s * 1000),
                keys.DECIDED_CHANNEL,
            ],
        )
        status = as_text(reply[0])
        if status == "missing":
            raise UnknownApproval(approval_id)
        if status == "not_yet":
            return _Transition(status, ms_left=int(reply[1]))
        approval = Approval.from_hash(_pairs(reply[1]))
        if status in ("ok", "expired"):
            log.info("approval %s %s by %s", approval.id, approval.state, approval.decider or "its deadline")
            await self._notify(approval)
        return _Transition(status, approval)

    async def _notify(self, approval: Approval) -> None:
        for listener in self._listeners:
            try:
                await listener(approval)
            except Exception:
                log.exception("transition listener failed for approval %s", approval.id)

    async def _maintain(self) -> None:
        interval = self._settings.sweep_interval_s
        every = max(1, round(self._settings.resync_interval_s / interval))
        rounds = 0
        while True:
            await asyncio.sleep(interval)
            rounds += 1
            try:
                expired = await self.expire_due()
                if expired:
                    log.info("expired %d orphaned approval(s)", len(expired))
                if rounds % every == 0:
                    await self._subscriber.resync()
            except _TRANSIENT as exc:
                log.warning("approval maintenance skipped a round: %s", exc)
            except Exception:
                log.exception("approval maintenance round failed")


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Retry ``call`` through Redis outages: a waiter keeps waiting rather than failing."""
    backoff = 0.05
    while True:
        try:
            result = await call()
        except _TRANSIENT as exc:
            raise_if_cancelled()
            log.warning("Redis unavailable (%s); retrying in %.2fs", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
        else:
            raise_if_cancelled()
            return result


def _decoded(fields: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in fields.items()}


def _pairs(flat: list[bytes | str]) -> dict[str, str]:
    return {as_text(flat[i]): as_text(flat[i + 1]) for i in range(0, len(flat), 2)}
