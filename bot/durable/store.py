"""Runs in Redis: the record of each run, its queue (a Redis Stream read by a consumer group), its lease with a
fencing token, and the model answers it recorded.

The queue is Redis Streams directly (``XADD`` / ``XREADGROUP`` / ``XAUTOCLAIM``) rather than a job library: a run
must be fenced in the same Lua script that records its steps, in the slot of its approvals, on the engine's own
connection pool, and work on the demo's in-process Redis; see the README's design section for the comparison.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.approvals import keys
from bot.approvals.models import as_text
from bot.durable import scripts
from bot.runs import RunRequest

QUEUE = f"{keys.PREFIX}:runs"
GROUP = "workers"


def run_key(workflow_id: str) -> str:
    return f"{keys.PREFIX}:{keys.run_bucket(workflow_id)}:run:{workflow_id}"


def model_key(workflow_id: str) -> str:
    return f"{run_key(workflow_id)}:model"


def tool_key(workflow_id: str, call: str) -> str:
    """The recorded events (started, result) of one tool call of a run."""
    return f"{run_key(workflow_id)}:tool:{call}"


@dataclass(frozen=True, slots=True)
class Lease:
    workflow_id: str
    fence: int
    request: RunRequest
    entry_id: str
    resumed: bool
    """The run was started before (by this or another worker): it replays what it recorded."""
    ask_again: int = 0
    """A step an approver asked again after it expired ("Ask again"): it gets a new attempt, on the same card."""


class LeaseLost(Exception):
    """This worker no longer holds the run's lease: it must not post, record or report anything for it."""


class RunStore:
    def __init__(self, redis: aioredis.Redis, *, retention_s: float, lease_s: float) -> None:
        self.redis = redis
        self.retention_ms = int(retention_s * 1000)
        self.lease_ms = int(lease_s * 1000)
        self._create = redis.register_script(scripts.CREATE)
        self._acquire = redis.register_script(scripts.ACQUIRE)
        self._renew = redis.register_script(scripts.RENEW)
        self._record = redis.register_script(scripts.RECORD)
        self._step = redis.register_script(scripts.STEP)
        self._finish = redis.register_script(scripts.FINISH)
        self._release = redis.register_script(scripts.RELEASE)
        self._reopen = redis.register_script(scripts.REOPEN)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(QUEUE, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue(self, request: RunRequest) -> bool:
        """Record the run and queue it; False if a run with this id exists already (nothing queued twice)."""
        fields = [str(v) for pair in asdict(request).items() for v in pair]
        created = await self._create(keys=[run_key(request.workflow_id)], args=[self.retention_ms, *fields])
        if created:
            await self.redis.xadd(QUEUE, {"run": request.workflow_id})
        return bool(created)

    async def requeue(self, workflow_id: str) -> None:
        """Queue a run again (after a shutdown released it), so a live worker takes it now, not after a lease."""
        await self.redis.xadd(QUEUE, {"run": workflow_id})

    async def acquire(self, workflow_id: str, worker: str, entry_id: str) -> Lease | str:
        """The lease on a run, or why not: ``done``, ``missing`` or ``held``."""
        reply = await self._acquire(keys=[run_key(workflow_id)], args=[worker, self.lease_ms])
        status = as_text(reply[0])
        if status != "ok":
            return status
        fields = {as_text(reply[2][i]): as_text(reply[2][i + 1]) for i in range(0, len(reply[2]), 2)}
        resumed = int(reply[1]) > 1
        ask_again = int(fields.get("ask_again") or 0)
        return Lease(workflow_id, int(reply[1]), RunRequest.from_fields(fields), entry_id, resumed, ask_again)

    async def renew(self, lease: Lease, worker: str) -> bool:
        held = await self._renew(keys=[run_key(lease.workflow_id)], args=[worker, lease.fence, self.lease_ms])
        if held:  # keep the queue entry ours, so no other worker's XAUTOCLAIM sees it idle
            await self.redis.xclaim(QUEUE, GROUP, worker, 0, [lease.entry_id], justid=True)
        return bool(held)

    async def record_step(self, lease: Lease, step: int, state: str = "") -> None:
        """The human step the run is about to ask, with the workflow's state there (JSON), before its card."""
        if not await self._step(keys=[run_key(lease.workflow_id)], args=[lease.fence, step, state]):
            raise LeaseLost(lease.workflow_id)

    async def checkpoint(self, workflow_id: str) -> tuple[int, str]:
        """The last step recorded and the state checkpointed with it (``(0, "")`` before the first)."""
        step, state = await self.redis.hmget(run_key(workflow_id), ["step", "state"])
        return int(step or 0), as_text(state) if state is not None else ""

    async def recorded_answer(self, workflow_id: str, index: int) -> str | None:
        answer = await self.redis.lindex(model_key(workflow_id), index)
        return as_text(answer) if answer is not None else None

    async def record_answer(self, lease: Lease, index: int, answer: str) -> str:
        """Record the model's ``index``-th answer; returns the answer that stands (an earlier one wins)."""
        return await self._append(lease, model_key(lease.workflow_id), index, answer)

    async def tool_events(self, workflow_id: str, call: str) -> list[str]:
        return [as_text(event) for event in await self.redis.lrange(tool_key(workflow_id, call), 0, -1)]

    async def record_tool_event(self, lease: Lease, call: str, index: int, event: str) -> str:
        """Record the ``index``-th event of a tool call, fenced; returns the event that stands."""
        return await self._append(lease, tool_key(lease.workflow_id, call), index, event)

    async def _append(self, lease: Lease, key: str, index: int, value: str) -> str:
        reply = await self._record(keys=[run_key(lease.workflow_id), key], args=[lease.fence, index, value])
        status = as_text(reply[0])
        if status == "fenced":
            raise LeaseLost(lease.workflow_id)
        return as_text(reply[1]) if status == "known" else value

    async def finish(self, lease: Lease, outcome: dict[str, Any]) -> bool:
        """Mark the run done (never executed again); False if the lease was lost (report nothing)."""
        done = await self._finish(
            keys=[run_key(lease.workflow_id)],
            args=[lease.fence, self.retention_ms, json.dumps(outcome), str(outcome.get("status", ""))],
        )
        if done:
            await self.redis.xack(QUEUE, GROUP, lease.entry_id)
        return bool(done)

    async def reopen(self, workflow_id: str, step: int, window_s: float) -> str:
        """Queue a run that ended expired at ``step`` to ask that step again ("Ask again"), within ``window_s``
        of its end: ``ok``, or why not (``missing``, ``not_expired``, ``other_step``, ``too_late``, ``running``:
        asked again already, ``finishing``: it has not recorded its end yet). Nothing else ever runs a finished run
        again."""
        reply = await self._reopen(keys=[run_key(workflow_id)], args=[step, int(window_s * 1000), self.retention_ms])
        status = as_text(reply)
        if status == "ok":
            await self.redis.xadd(QUEUE, {"run": workflow_id})
        return status

    async def release(self, lease: Lease, worker: str) -> bool:
        released = await self._release(keys=[run_key(lease.workflow_id)], args=[worker, lease.fence])
        if released:
            await self.requeue(lease.workflow_id)
            await self.redis.xack(QUEUE, GROUP, lease.entry_id)
        return bool(released)

    async def drop(self, entry_id: str) -> None:
        """Forget a queue entry whose run is done or gone."""
        await self.redis.xack(QUEUE, GROUP, entry_id)

    async def next_entries(self, worker: str, count: int, block_ms: int) -> list[tuple[str, str]]:
        """New queue entries for this worker: ``(entry_id, workflow_id)``."""
        reply: Any = await self.redis.xreadgroup(GROUP, worker, {QUEUE: ">"}, count=count, block=block_ms)
        if not reply:
            return []
        streams = list(reply.values()) if isinstance(reply, dict) else [stream[1] for stream in reply]  # RESP3 | 2
        return [entry for stream in streams for entry in _entries(stream)]

    async def idle_entries(self, worker: str, count: int) -> list[tuple[str, str]]:
        """Entries whose worker has not renewed for a lease: candidates for takeover (``acquire`` decides)."""
        reply: Any = await self.redis.xautoclaim(QUEUE, GROUP, worker, self.lease_ms, "0-0", count=count)
        return _entries(reply[1])


def _entries(raw: Any) -> list[tuple[str, str]]:
    found = []
    for entry_id, fields in raw:
        if fields is None:  # trimmed or deleted entry still pending
            continue
        run = fields.get("run") if isinstance(fields, dict) else None
        if run:
            found.append((as_text(entry_id), as_text(run)))
    return found
