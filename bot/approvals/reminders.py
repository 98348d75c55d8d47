"""Reminders and escalations of pending approvals, scheduled in Redis so that any replica sends each one once.

When a card is recorded, ``schedule`` adds one entry per kind (``remind``, ``escalate``) to its bucket's reminders
index, due that many seconds later, unless the card's approvals expire first; a card posted again (a restarted
replica finding its card) is not scheduled again. Every replica polls ``claim_due``: CLAIM hands a due entry to
one replica for a lease, which sends it and calls ``done``, which removes the entry and audits ``reminded`` or
``escalated`` in the same script. An entry whose approvals are all decided is dropped when found (and ``cancel``
drops it at the decision).

Delivery is at least once, not at most once: the entry stays claimed, not removed, while it is sent, so a replica
that dies (or is cut off from Redis) between its claim and ``done`` leaves it to be sent again by another once
the lease runs out. The one duplicate that can happen needs a death between Slack's answer and one Redis call;
at most once would instead lose the reminder whenever a replica dies during the Slack call, rate-limit waits
included, and a lost escalation is the failure nobody notices. After ``MAX_ATTEMPTS`` claims it is given up and
audited (``reminder_failed``, ``escalation_failed``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.connection import EngineScript
from bot.approvals.models import Approval, as_text
from bot.approvals.reminder_scripts import CANCEL, CLAIM, DONE, SCHEDULE
from bot.approvals.transitions import pairs

log = logging.getLogger(__name__)

Kind = Literal["remind", "escalate"]
KINDS: tuple[Kind, ...] = ("remind", "escalate")
SENT: dict[Kind, str] = {"remind": "reminded", "escalate": "escalated"}
"""The audit event of a sent reminder or escalation."""
FAILED: dict[Kind, str] = {"remind": "reminder_failed", "escalate": "escalation_failed"}
"""The audit event of one given up (Slack refused it, or every attempt failed)."""

DEFAULT_LEASE_S = 60.0
"""How long a replica holds a claimed entry before another may send it again: longer than a send may take."""
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Claim:
    """A due reminder or escalation this replica holds: the card's approvals still pending, first one first."""

    kind: Kind
    member: str
    approvals: tuple[Approval, ...]
    attempt: int

    @property
    def first(self) -> Approval:
        return self.approvals[0]

    @property
    def card_ids(self) -> list[str]:
        """Every approval id of the card (decided ones too), as the entry names them."""
        return self.member.partition(":")[2].split(",")


class Reminders:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        remind_after_s: float | None = None,
        escalate_after_s: float | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        for name, value in (("remind_after_s", remind_after_s), ("escalate_after_s", escalate_after_s)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        self._redis = redis
        self._delays: dict[Kind, float] = {}
        if remind_after_s is not None:
            self._delays["remind"] = remind_after_s
        if escalate_after_s is not None:
            self._delays["escalate"] = escalate_after_s
        self._lease_ms = int(lease_s * 1000)
        self._schedule = EngineScript(redis, SCHEDULE)
        self._claim = EngineScript(redis, CLAIM)
        self._done = EngineScript(redis, DONE)
        self._cancel = EngineScript(redis, CANCEL)

    @property
    def enabled(self) -> bool:
        return bool(self._delays)

    async def schedule(self, approval_ids: list[str]) -> int:
        """Schedule the reminders of the card showing ``approval_ids`` (once per card; call it right after the
        card is recorded). Returns how many were scheduled (0: none configured, already scheduled, or every
        approval expires first)."""
        if not self._delays or not approval_ids:
            return 0
        _one_run(approval_ids)
        args: list[str | int] = [",".join(approval_ids)]
        for kind, delay in self._delays.items():
            args += [kind, int(delay * 1000)]
        return int(await self._schedule(keys=keys.reminder_keys(approval_ids), args=args))

    async def claim_due(self, limit: int = 100) -> list[Claim]:
        """Claim up to ``limit`` due entries per bucket; those this replica now holds and must send."""
        now_s, now_us = await self._redis.time()
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        pipe = self._redis.pipeline(transaction=False)
        for tag in keys.all_buckets():
            pipe.zrangebyscore(keys.reminders_key(tag), "-inf", now_ms, start=0, num=limit)
        claims: list[Claim] = []
        for members in await pipe.execute():
            for raw in members:
                member = as_text(raw)
                kind, _, ids = member.partition(":")
                if kind not in KINDS or not ids:
                    continue
                reply = await self._claim(
                    keys=keys.reminder_keys(ids.split(",")),
                    args=[member, self._lease_ms, MAX_ATTEMPTS, FAILED[kind]],
                )
                if reply:
                    approvals = tuple(Approval.from_hash(pairs(record)) for record in reply[1:])
                    claims.append(Claim(kind, member, approvals, int(reply[0])))
        return claims

    async def done(self, claim: Claim, *, sent: bool, detail: str = "") -> bool:
        """End ``claim``: remove its entry and audit it (``reminded``/``escalated``, or the failure when not
        ``sent``) with ``detail``. False if another replica ended it first (after this one's lease ran out)."""
        event = SENT[claim.kind] if sent else FAILED[claim.kind]
        ended = await self._done(
            keys=keys.reminder_keys(claim.card_ids),
            args=[claim.member, event, detail, ",".join(a.id for a in claim.approvals)],
        )
        return bool(int(ended))

    async def cancel(self, approval: Approval) -> None:
        """Drop the reminders of ``approval``'s card once none of its approvals is pending (a transition
        listener of the store: called at each decision and expiry this process records)."""
        if approval.pending or not self._delays:
            return
        ids = await self._redis.hget(keys.record_key(approval.id), "reminders")
        if not ids:
            return
        card = as_text(ids).split(",")
        dropped = await self._cancel(keys=keys.reminder_keys(card), args=[as_text(ids), *KINDS])
        if dropped:
            log.info("dropped %d reminder(s) of approval %s: it is %s", int(dropped), approval.id, approval.state)

    async def entries(self) -> list[tuple[str, int]]:
        """Every entry (member, due ms) of every bucket, due or not (for operators and tests)."""
        pipe = self._redis.pipeline(transaction=False)
        for tag in keys.all_buckets():
            pipe.zrange(keys.reminders_key(tag), 0, -1, withscores=True)
        return sorted((as_text(m), int(score)) for found in await pipe.execute() for m, score in found)


def _one_run(approval_ids: list[str]) -> None:
    tags = {keys.bucket(approval_id) for approval_id in approval_ids}
    if len(tags) > 1:
        raise ValueError(f"the approvals of one card belong to one run: {approval_ids}")
