"""Coalesces the record reads that many waits start at once into pipelines.

10,000 waits starting together would otherwise queue 10,000 single reads on a pool of a few connections. Reads
asked for in the same event-loop tick go out as one pipeline per 500 (``HGETALL`` each, plus one ``TIME``).
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.errors import StoreClosed
from bot.approvals.models import as_text

Fields = dict[str, str]
Pending = list[tuple[str, "asyncio.Future[tuple[Fields, int]]"]]

_BATCH = 500


class RecordReader:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._queue: Pending = []
        self._inflight: Pending = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def read(self, approval_id: str) -> tuple[Fields, int]:
        """The record's fields (empty if it does not exist) and Redis's clock in milliseconds."""
        if self._closed:
            raise StoreClosed
        fut: asyncio.Future[tuple[Fields, int]] = asyncio.get_running_loop().create_future()
        self._queue.append((approval_id, fut))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="approval-reads")
        return await fut

    async def aclose(self) -> None:
        """Stop reading; every read not answered yet raises ``StoreClosed``."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for _, fut in [*self._inflight, *self._queue]:
            if not fut.done():
                fut.set_exception(StoreClosed())
        self._inflight, self._queue = [], []

    async def _flush(self) -> None:
        try:
            while self._queue:
                self._inflight = [(i, fut) for i, fut in self._queue[:_BATCH] if not fut.done()]
                del self._queue[:_BATCH]
                if self._inflight:
                    await self._read(self._inflight)
                self._inflight = []
        finally:
            self._flusher = None

    async def _read(self, batch: Pending) -> None:
        try:  # building the pipeline can fail too (a cluster client refuses some commands): fail the readers
            pipe = self._redis.pipeline(transaction=False)
            for approval_id, _ in batch:
                pipe.hgetall(keys.record_key(approval_id))
            pipe.time()
            *records, (now_s, now_us) = await pipe.execute()
        except Exception as exc:  # each reader decides what a failure means (the store retries)
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        for (_, fut), fields in zip(batch, records, strict=True):
            if not fut.done():
                fut.set_result(({as_text(k): as_text(v) for k, v in fields.items()}, now_ms))
