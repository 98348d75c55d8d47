"""Every replica is a worker: it takes runs from the queue, holds a lease on each while it executes it, takes over
runs whose worker stopped renewing, and gives its runs back on shutdown so another replica resumes them at once.

A run's lease is renewed every third of ``RUN_LEASE``; a worker that cannot renew it (Redis gone for longer than a
lease, or another worker took the run after this one was paused) stops the run at once and reports nothing: the
run's fencing token has moved on, so nothing it would still try to record is accepted.

A shutdown (``shutdown``) is bounded: runs stop through their tokens (one waiting on a card at once), any still
inside a call after a third of ``stop_s`` are cancelled; every lease is released at once, in parallel, within
``release_s``. A lease Redis did not take back lapses after ``RUN_LEASE``, and another replica takes the run then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import asdict

from autogen_core import CancellationToken
from redis.exceptions import RedisError

from bot.approvals import Approval
from bot.approvals.connection import raise_if_cancelled
from bot.durable.store import Lease, RunStore
from bot.logs import RUN_ID
from bot.prompts import MessageRef
from bot.runner import RunInterrupted, WorkflowRunner
from bot.runs import Notices, RunRequest

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
CLAIM_EVERY_S = 1.0
CAPACITY = 100
"""Runs one worker executes at once (they spend their time waiting on people)."""


class Worker:
    def __init__(
        self, runs: RunStore, runner: WorkflowRunner, notices: Notices, *, worker_id: str | None = None
    ) -> None:
        self.runs = runs
        self.runner = runner
        self.notices = notices
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:10]}"
        self._active: dict[str, tuple[Lease, asyncio.Task[None], CancellationToken]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_hand: dict[str, str] = {}
        """Queue entries read but not taken yet (entry id -> run): a shutdown queues their runs again."""
        self._held: dict[str, tuple[str, float]] = {}
        """Entries a claim found still leased: entry id -> (run, until when to look again)."""

    async def start(self) -> None:
        await self.runs.ensure_group()
        self._loop = asyncio.create_task(self._take_runs(), name=f"{self.worker_id}-queue")

    async def enqueue(self, request: RunRequest) -> bool:
        return await self.runs.enqueue(request)

    async def card_posted(self, approval: Approval, ref: MessageRef) -> None:
        """The prompter posted a card: tell the requester of the run it belongs to (if this worker runs it)."""
        active = self._active.get(approval.workflow_id)
        if active is not None:
            await self.notices.card_posted(active[0].request, approval, ref)

    async def stop_taking(self, timeout: float = 0.5) -> None:
        """Take no more runs, from now on (a run read from the queue but not taken yet is given back later)."""
        self._stopping = True
        if self._loop is not None and not self._loop.done():
            self._loop.cancel()
            await asyncio.wait([self._loop], timeout=timeout)

    async def aclose(self) -> None:
        await self.shutdown()

    async def shutdown(self, *, stop_s: float = 2.0, release_s: float = 2.0) -> list[str]:
        """Stop taking runs; stop every run (its pending approval stays pending: its card keeps working) within
        ``stop_s``; then give the leases back and queue the runs again within ``release_s``, so a live replica
        resumes them at once. Returns what was left undone, in words."""
        await self.stop_taking()
        active = list(self._active.values())
        for lease, _, token in active:
            self.runner.stop(lease.workflow_id)
            token.cancel()
        left: list[str] = []
        stuck: set[asyncio.Task[None]] = set()
        tasks = {task for _, task, _ in active}
        if tasks:  # a waiting run stops at once; one inside a Redis or Slack call its token cannot reach is cut
            _, late = await asyncio.wait(tasks, timeout=stop_s / 3)
            for task in late:
                task.cancel()
            if late:
                _, stuck = await asyncio.wait(late, timeout=stop_s * 2 / 3)
        if stuck:  # still running: its lease is not given back (it lapses once the process is gone)
            left.append(f"{len(stuck)} run(s) did not stop within {stop_s:.1f} s")
        stopped = [lease for lease, task, _ in active if task not in stuck]
        given, kept = await self._give_back(stopped, release_s)
        if given:
            log.info("gave %d run(s) back to the queue", given)
        if kept:
            left.append(
                f"{kept} run(s) not given back (Redis did not answer within {release_s:.1f} s): another replica "
                f"takes them over once their lease lapses (RUN_LEASE, {self.runs.lease_ms / 1000:g} s)"
            )
        return left

    async def _give_back(self, leases: list[Lease], timeout: float) -> tuple[int, int]:
        """Release ``leases`` and requeue their runs, and requeue what was read but not taken, all at once;
        returns (runs given back, runs that could not be)."""
        releases = [asyncio.ensure_future(self.runs.release(lease, self.worker_id)) for lease in leases]
        calls = releases + [asyncio.ensure_future(self._hand_back(e, run)) for e, run in self._in_hand.items()]
        if not calls:
            return 0, 0
        try:
            done, pending = await asyncio.wait(calls, timeout=timeout)
        finally:
            for call in calls:
                call.cancel()
        if pending:
            await asyncio.wait(pending, timeout=0.1)
        failed = [call for call in done if call.cancelled() or call.exception() is not None]
        for call in failed:
            why = "cancelled" if call.cancelled() else type(call.exception()).__name__
            log.warning("could not give a run back (%s)", why)
        given = sum(1 for call in releases if call in done and call not in failed and call.result())
        return given, len(pending) + len(failed)

    async def _hand_back(self, entry_id: str, workflow_id: str) -> bool:
        await self.runs.requeue(workflow_id)
        await self.runs.drop(entry_id)
        return True

    @property
    def running(self) -> int:
        """Runs this worker is executing now."""
        return len(self._active)

    async def _take_runs(self) -> None:
        # Lapsed runs are looked for at least every CLAIM_EVERY_S (a read of the queue blocks no longer than
        # until then), so a dead worker's run is taken over within about a lease and a second.
        claim_every = min(self.runs.lease_ms / 3000, CLAIM_EVERY_S)
        next_claim = 0.0
        backoff = 0.1
        while not self._stopping:
            try:
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + claim_every
                    await self._take_all(await self.runs.idle_entries(self.worker_id, 10) + self._recheck())
                room = CAPACITY - self.running
                if room <= 0:
                    await asyncio.sleep(min(0.5, claim_every))
                    continue
                block_ms = max(1, min(READ_BLOCK_MS, int((next_claim - time.monotonic()) * 1000)))
                await self._take_all(await self.runs.next_entries(self.worker_id, room, block_ms))
                backoff = 0.1
            except (RedisError, OSError) as exc:
                log.warning("the run queue is unavailable (%s); retrying in %.1fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _recheck(self) -> list[tuple[str, str]]:
        """Entries found held at a claim, to try again until a lease has passed since."""
        now = time.monotonic()
        for entry_id, (_, until) in list(self._held.items()):
            if until < now:
                del self._held[entry_id]
        return [(entry_id, workflow_id) for entry_id, (workflow_id, _) in self._held.items()]

    async def _take_all(self, entries: list[tuple[str, str]]) -> None:
        """Take each entry in turn; what a shutdown interrupts stays in hand, to be given back."""
        self._in_hand.update(entries)
        for entry_id, workflow_id in entries:
            if self._stopping:
                return
            await self._take(entry_id, workflow_id)
            self._in_hand.pop(entry_id, None)

    async def _take(self, entry_id: str, workflow_id: str) -> None:
        if workflow_id in self._active:
            # Still ending here (reporting its end) when it was queued again (Ask again): try again at each claim
            # tick, rather than leave the entry to be found idle a whole lease later.
            self._held.setdefault(entry_id, (workflow_id, time.monotonic() + self.runs.lease_ms / 1000))
            return
        got = await self.runs.acquire(workflow_id, self.worker_id, entry_id)
        if isinstance(got, str):
            if got in ("done", "missing"):
                await self.runs.drop(entry_id)
                self._held.pop(entry_id, None)
            elif got == "held":
                # Its worker renews, and its renewal claims the entry back. But XAUTOCLAIM reset the entry's idle
                # time when it handed it here, so if that worker is in fact dead (its lease ran out a moment after
                # the entry went idle), no claim would find it again for a whole lease: look again at each
                # claim tick for one more lease.
                self._held.setdefault(entry_id, (workflow_id, time.monotonic() + self.runs.lease_ms / 1000))
            return
        self._held.pop(entry_id, None)
        log.info(
            "%s took run %s (fence %d%s)", self.worker_id, workflow_id, got.fence, ", resuming" if got.resumed else ""
        )
        token = CancellationToken()
        task = asyncio.create_task(self._execute(got, token), name=workflow_id)
        self._active[workflow_id] = (got, task, token)
        task.add_done_callback(lambda _: self._active.pop(workflow_id, None))

    async def _execute(self, lease: Lease, token: CancellationToken) -> None:
        RUN_ID.set(lease.workflow_id)  # this task's context: every line it (and what it starts) logs names the run
        renewing = asyncio.create_task(self._renew(lease, token), name=f"{lease.workflow_id}-lease")
        try:
            outcome = await self.runner.execute(lease, token)
        except RunInterrupted:
            log.info("run %s stopped before it ended (left for another worker)", lease.workflow_id)
            return
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        try:
            if not await self.runs.finish(lease, asdict(outcome)):
                log.warning("run %s ended after this worker lost its lease; not reported", lease.workflow_id)
                return
        except (RedisError, OSError):
            log.exception("could not record the end of run %s; it will be resumed and replayed", lease.workflow_id)
            return
        try:
            await self.notices.finished(lease.request, outcome)
        except Exception:
            log.exception("could not report the end of run %s", lease.workflow_id)

    async def _renew(self, lease: Lease, token: CancellationToken) -> None:
        every = self.runs.lease_ms / 3000
        held_until = time.monotonic() + self.runs.lease_ms / 1000
        while True:
            await asyncio.sleep(every)
            try:
                held = await self.runs.renew(lease, self.worker_id)
                raise_if_cancelled()
            except (RedisError, OSError) as exc:
                log.warning("could not renew the lease of run %s (%s)", lease.workflow_id, type(exc).__name__)
                held = time.monotonic() < held_until
            else:
                if held:
                    held_until = time.monotonic() + self.runs.lease_ms / 1000
            if not held:
                log.warning("lost the lease of run %s; stopping it here", lease.workflow_id)
                self.runner.stop(lease.workflow_id)
                token.cancel()
                return
