"""The approval store: create (idempotent), decide (atomic, once), wait (push, timeout), card bookkeeping.

Redis holds the truth; this process holds only futures. Any replica may decide any approval, any replica runs the
maintenance (``maintenance.py``), and a restarted process re-attaches to its approvals by creating them again with
the same key. Every call that changes a record carries a nonce, so redis-py re-sending it after a lost reply
answers as the first run did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from bot.approvals import keys, scripts
from bot.approvals.connection import TRANSIENT, EngineScript, raise_if_cancelled
from bot.approvals.deadlines import TIME_UP, Deadlines
from bot.approvals.errors import (
    AlreadyCounted,
    AlreadyDecided,
    Expired,
    PolicyChanged,
    SelfApprovalRefused,
    StaleVersion,
    StoreClosed,
    UnknownApproval,
)
from bot.approvals.maintenance import Maintenance
from bot.approvals.models import Approval, ApprovalKey, Outcome, State, Terms, as_text, prompt_digest
from bot.approvals.reads import RecordReader
from bot.approvals.reconciler import CardReconciler
from bot.approvals.settings import StoreSettings
from bot.approvals.subscriber import MISSING, DecisionSubscriber, sharded
from bot.approvals.transitions import (
    COUNTED,
    DUPLICATE,
    OK,
    REFUSED,
    STALE,
    Mode,
    TransitionResult,
    new_nonce,
    pairs,
    parse_transition,
    transition_args,
    transition_keys,
)

__all__ = ["ApprovalStore", "StoreSettings", "TransitionListener"]

log = logging.getLogger(__name__)

TransitionListener = Callable[[Approval], Awaitable[None]]
"""Called with the record after this process moved it out of ``pending`` (a decision or an expiry), and by the
maintenance of any replica for a decided record whose card does not show it yet. Call ``mark_shown`` once the
card shows ``approval.state``."""

T = TypeVar("T")

DEFAULT_TERMS = Terms()
"""One approver, who may be the requester; nothing recorded of what is asked."""


class ApprovalStore:
    def __init__(self, redis: aioredis.Redis, settings: StoreSettings | None = None) -> None:
        self._redis = redis
        self._settings = settings or StoreSettings()
        self._closed = asyncio.Event()
        self._subscriber = DecisionSubscriber(
            redis, idle_s=self._settings.liveness_idle_s, reply_timeout_s=self._settings.liveness_timeout_s
        )
        self._reader = RecordReader(redis)
        self._deadlines = Deadlines()
        self._sharded = sharded(redis)
        self._create = EngineScript(redis, scripts.CREATE)
        self._transition = EngineScript(redis, scripts.TRANSITION)
        self._attach = EngineScript(redis, scripts.ATTACH)
        self._mark_shown = EngineScript(redis, scripts.MARK_SHOWN)
        self._note = EngineScript(redis, scripts.NOTE)
        self._listeners: list[TransitionListener] = []
        self.reconciler = CardReconciler(redis, self._settings)
        self._maintenance = Maintenance(self, self._subscriber, self._settings)

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    @property
    def settings(self) -> StoreSettings:
        return self._settings

    @property
    def subscriber(self) -> DecisionSubscriber:
        return self._subscriber

    async def start(self, *, maintenance: bool = True) -> None:
        """Subscribe to decisions; with ``maintenance``, also expire orphans, re-report unshown decisions and
        resync periodically."""
        await self._subscriber.start()
        if maintenance:
            self._maintenance.start()

    async def aclose(self) -> None:
        """Stop the background work; waits still in progress raise ``StoreClosed``. Idempotent."""
        self._closed.set()
        await self._maintenance.aclose()
        await self._reader.aclose()
        await self._subscriber.aclose()
        self._deadlines.clear()

    def on_transition(self, listener: TransitionListener) -> None:
        self._listeners.append(listener)

    async def create(
        self,
        key: ApprovalKey,
        *,
        prompt: str,
        requester: str,
        workflow: str,
        timeout_s: float,
        digest: str = "",
        terms: Terms = DEFAULT_TERMS,
        policy_rev: str = "",
        decided: tuple[Outcome, str, str] | None = None,
    ) -> Approval:
        """Store a pending approval, or return the existing one for the same key, decided or not (with the terms
        it was created with, whatever ``terms`` says now).

        ``digest`` is what it asks about (``models.ask_digest``); the caller compares it with an existing
        record's. ``terms`` are enforced by ``decide`` (quorum, self-approval) and kept for the audit. The audit's
        ``created`` entry keeps the prompt text, its sha256, the digest  and the terms.

        For an asker outside the bots (``requests.py``): ``policy_rev`` is the revision of the published policy
        the terms were worked out under (``none``: none was published); if the bots published another since, nothing
        is written and ``PolicyChanged`` is raised. ``decided`` (outcome, decider, feedback) records the policy's
        decision in the same step, so the approval is never pending."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        approval_id = key.approval_id
        outcome, decider, feedback = (decided[0].value, decided[1], decided[2]) if decided else ("", "", "")
        reply = await self._create(
            keys=[*keys.keys_for(approval_id), keys.policy_key(keys.bucket(approval_id))],
            args=[
                approval_id,
                key.workflow_id,
                key.step,
                prompt,
                requester,
                workflow,
                int(timeout_s * 1000),
                int(self._settings.retention_s * 1000),
                prompt_digest(prompt),
                new_nonce(),
                digest,
                terms.quorum,
                "allow" if terms.self_approval else "deny",
                terms.kind,
                terms.tool,
                terms.args,
                terms.rule,
                terms.risk,
                terms.shadow,
                policy_rev,
                outcome,
                decider,
                feedback,
            ],
        )
        if int(reply[0]) == -1:
            raise PolicyChanged(approval_id)
        created, _now, fields = reply
        approval = Approval.from_hash(pairs(fields))
        log.info("approval %s %s", approval_id, "created" if created else f"re-attached ({approval.state})")
        return approval

    async def attach_message(self, approval_id: str, channel: str, ts: str, *, retry_for_s: float = 0.0) -> None:
        """Remember where the card was posted, so clicks and thread replies find the approval.

        Call it right after the card's ``chat.postMessage``, before anything else is posted. It is idempotent: the
        same call again changes nothing. With ``retry_for_s``, Redis errors are retried with backoff for up to that
        long before the last one is raised. An approval decided before its card was attached is re-reported to
        the transition listeners by maintenance, so that card gets updated too. Raises ``UnknownApproval``.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + retry_for_s
        backoff = 0.05
        while True:
            try:
                await self._attach_once(approval_id, channel, ts)
                return
            except TRANSIENT as exc:
                raise_if_cancelled()
                if self._closed.is_set() or loop.time() + backoff > give_up:
                    raise
                log.warning("could not attach card %s to %s yet (%s); retrying", ts, approval_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _attach_once(self, approval_id: str, channel: str, ts: str) -> None:
        grace_ms = int(self._settings.report_grace_s * 1000)
        ttl_ms = await self._attach(keys=keys.card_keys_for(approval_id), args=[approval_id, channel, ts, grace_ms])
        if ttl_ms == -2:
            raise UnknownApproval(approval_id)
        px = ttl_ms if ttl_ms > 0 else int(self._settings.retention_s * 1000)
        await self._redis.set(keys.message_key(channel, ts), approval_id, px=px)

    async def note(self, approval_id: str, event: str, user: str, detail: str = "") -> bool:
        """Append an audit entry about ``approval_id`` that changes nothing of it (for example ``asked_again``);
        False if the record is gone."""
        return bool(await self._note(keys=keys.keys_for(approval_id), args=[approval_id, event, user, detail]))

    async def mark_shown(self, approval_id: str, state: State) -> None:
        """The card now shows ``state`` (call it after a successful ``chat.update``). Once the card shows the
        record's state, maintenance stops re-reporting it. Idempotent; a record that is gone is ignored."""
        await self._mark_shown(keys=keys.card_keys_for(approval_id), args=[approval_id, state.value])

    async def get(self, approval_id: str) -> Approval | None:
        fields = await self._redis.hgetall(keys.record_key(approval_id))
        return Approval.from_hash({as_text(k): as_text(v) for k, v in fields.items()}) if fields else None

    async def find_by_message(self, channel: str, ts: str) -> Approval | None:
        approval_id = await self._redis.get(keys.message_key(channel, ts))
        return await self.get(as_text(approval_id)) if approval_id else None

    async def decide(
        self,
        approval_id: str,
        outcome: Outcome,
        user: str,
        feedback: str | None = None,
        *,
        nonce: str | None = None,
        digest: str = "",
    ) -> Approval:
        """Record a decision if none was made yet, under the approval's terms, atomically.

        Returns the decided record, or, for an approval that needs more approvers (``Terms.quorum``), the record
        still pending with this person added to ``approved_by`` (check ``.pending``): the one that completes the
        quorum decides it, and a Revise or Cancel by anyone ends it at once. Raises ``SelfApprovalRefused`` (the
        requester approving where the terms forbid it), ``AlreadyCounted`` (this person approved already),
        ``AlreadyDecided``, ``Expired`` or ``UnknownApproval``; refusals are audited and change nothing else.
        ``digest``: the (prefix of the) digest of what the person was shown; another raises ``StaleVersion``.

        A decision past the deadline expires the approval instead (``Expired``; the audit records who clicked).
        Re-sends of this call answer as the first did. To retry one decision yourself (after a timeout, or for a
        redelivered click), pass the same ``nonce`` each time: the retry returns the record as the first call did
        (decided, or pending with the approval counted), not ``AlreadyDecided`` or ``AlreadyCounted``.
        """
        if outcome is Outcome.APPROVED and (not user or "," in user):
            raise ValueError(f"an approver must be named, without commas (approved_by is a list): {user!r}")
        result = await self._run_transition(
            approval_id, outcome.value, user, feedback or "", "decide", nonce or new_nonce(), digest
        )
        approval = result.record()
        status = result.status
        if status == OK:
            return approval
        if status == STALE:
            log.warning("click by %s on another version of approval %s refused", user, approval_id)
            raise StaleVersion(approval)
        if status == COUNTED and approval.state in (State.PENDING, State.APPROVED):
            return approval  # counted (a re-send may find the quorum completed since, by someone else)
        if status == REFUSED:
            raise SelfApprovalRefused(approval)
        if status == DUPLICATE:
            raise AlreadyCounted(approval)
        if approval.state is State.EXPIRED:
            raise Expired(approval)
        raise AlreadyDecided(approval)

    async def wait(self, approval_id: str, timeout: float | None = None, *, keep_pending: bool = False) -> Approval:
        """Wait for the decision and return the decided record.

        The wait ends at the record's deadline, or after ``timeout`` seconds if that comes first; either way
        the approval is then expired atomically, unless a decision won the race. With ``keep_pending``, a
        ``timeout`` that comes first leaves the approval pending and returns it as it is then (check
        ``.pending``); the deadline still expires it. Raises ``UnknownApproval`` when the record does not exist
        or vanishes from Redis while waited for, ``StoreClosed`` when the store is closed meanwhile.
        """
        if self._closed.is_set():
            raise StoreClosed
        nonce = new_nonce()
        # Register first, then read: a decision published after this line reaches the future, and one made
        # before it is in the record.
        fut = self._subscriber.register(approval_id)
        try:
            fields, now_ms = await self._retrying(lambda: self._reader.read(approval_id))
            if not fields:
                raise UnknownApproval(approval_id)
            approval = Approval.from_hash(fields)
            del fields  # the wait keeps the record, not the reply it came from (10,000 waits pend at once)
            give_up_ms = now_ms + int(timeout * 1000) if timeout is not None else approval.deadline_ms
            mode: Mode = "force" if give_up_ms < approval.deadline_ms else "expire"
            loop = asyncio.get_running_loop()
            local_end = loop.time() + (min(give_up_ms, approval.deadline_ms) - now_ms) / 1000
            while approval.pending:
                self._deadlines.add(local_end, fut)
                try:
                    woken = await fut
                finally:
                    self._deadlines.ended(fut)
                if "decided_ms" in woken:  # a message: it carries the decided fields
                    return approval.with_decision(
                        State(woken["state"]),
                        woken["decider"],
                        int(woken["decided_ms"]),
                        woken["feedback"],
                        _ids(woken.get("approved_by", "")),
                    )
                # A fresh future before asking Redis again, so no decision can slip between the two.
                self._subscriber.unregister(approval_id, fut)
                fut = self._subscriber.register(approval_id)
                if woken is not TIME_UP:  # a resync saw the record decided (or gone)
                    approval = await self._decided(approval, woken)
                    continue
                if keep_pending and mode == "force":  # the caller's own timeout, before the deadline
                    return await self._decided(approval, {})
                result = await self._retrying(lambda: self._run_transition(approval_id, "expired", "", "", mode, nonce))
                if result.status == "not_yet":  # our clock ran ahead of Redis's: wait the rest
                    local_end = loop.time() + result.ms_left / 1000
                    continue
                approval = result.record()
            return approval
        finally:
            self._subscriber.unregister(approval_id, fut)

    async def _decided(self, approval: Approval, woken: dict[str, str]) -> Approval:
        """The record re-read after a resync woke its waiter."""
        if woken.get("state") == MISSING:
            raise UnknownApproval(approval.id)
        fresh = await self._retrying(lambda: self.get(approval.id))
        if fresh is None:
            raise UnknownApproval(approval.id)
        return fresh

    async def expire(self, approval_id: str) -> TransitionResult:
        """Expire ``approval_id`` if its deadline has passed (status ``expired``; ``not_yet`` or ``already``
        otherwise). Raises ``UnknownApproval``. Used by the sweeper of every replica."""
        return await self._run_transition(approval_id, "expired", "", "", "expire", new_nonce())

    async def expire_due(self, limit: int = 100) -> list[Approval]:
        """Expire overdue approvals whoever waits for them (what maintenance runs). Safe on every replica."""
        return await self._maintenance.expire_due(limit)

    async def report_unshown(self, limit: int = 100) -> list[Approval]:
        """Re-report due decisions whose card does not show them (what maintenance runs). Safe on every replica."""
        return await self._maintenance.report_unshown(limit)

    async def seal_audit(self) -> int:
        """Trim the audit past ``audit_retention_s`` and, with ``audit_hmac_key``, seal its chains (what maintenance
        runs each round; ``sealing.py``). Safe on every replica. Returns how many buckets it sealed."""
        return await self._maintenance.seal_audit()

    async def report(self, approval: Approval) -> None:
        """Hand ``approval`` to every transition listener (errors are logged, not raised)."""
        for listener in self._listeners:
            try:
                await listener(approval)
            except Exception:
                log.exception("transition listener failed for approval %s", approval.id)

    async def _run_transition(
        self, approval_id: str, outcome: str, user: str, feedback: str, mode: Mode, nonce: str, digest: str = ""
    ) -> TransitionResult:
        args = transition_args(
            approval_id,
            outcome,
            user,
            feedback,
            mode,
            nonce=nonce,
            settings=self._settings,
            sharded=self._sharded,
            digest=digest,
        )
        reply = await self._transition(keys=transition_keys(approval_id), args=args)
        result = parse_transition(approval_id, reply)
        if result.changed:
            approval = result.record()
            log.info("approval %s %s by %s", approval.id, approval.state, approval.decider or "its deadline")
            await self.report(approval)
        return result

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retry ``call`` through Redis outages: a waiter keeps waiting rather than failing, until the store
        closes (``StoreClosed``)."""
        backoff = 0.05
        while True:
            try:
                result = await call()
            except TRANSIENT as exc:
                raise_if_cancelled()
                log.warning("Redis unavailable (%s); retrying in %.2fs", exc, backoff)
                try:
                    async with asyncio.timeout(backoff):
                        await self._closed.wait()
                except TimeoutError:
                    pass
                if self._closed.is_set():
                    raise StoreClosed from exc
                backoff = min(backoff * 2, 1.0)
            else:
                raise_if_cancelled()
                return result


def _ids(csv: str) -> tuple[str, ...]:
    """``approved_by`` as a decision message carries it (comma-separated)."""
    return tuple(item for item in csv.split(",") if item) if csv else ()
