"""Reading the audit trail: one Redis Stream per bucket, appended atomically by the Lua scripts, each one hash chain
(``chain.py``; ``bot.audit_verify`` checks them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.models import as_text


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One create, decision or refused decision.

    ``event`` is ``created``, an outcome (``approved``, ``revised``, ``cancelled``, ``expired``), ``late_click``
    (a decision refused because the approval had expired already), ``approval_counted`` (one approval towards a
    quorum; the approval stays pending), ``duplicate_approval`` (the same person approving again, refused) or
    ``self_approval_refused`` (the requester approving where the terms forbid it), ``asked_again``, or a pending
    card's ``reminded`` / ``escalated`` (``reminder_failed`` / ``escalation_failed``: given up; ``feedback`` says
    whom it reached or why not; ``reminders.py``). ``created`` entries carry the
    ``prompt`` as shown and its ``prompt_sha256``; an ``expired`` entry caused by a click past the deadline, and
    every ``late_click``, name the clicker in ``late_click_by``. Fields an older entry lacks read as their defaults.
    """

    entry_id: str
    event: str
    approval_id: str
    workflow_id: str
    step: int
    workflow: str
    user: str
    at_ms: int
    feedback: str
    waited_ms: int
    prompt: str = ""
    prompt_sha256: str = ""
    digest: str = ""
    """On ``created``: sha256 of what was asked (``models.ask_digest``: kind, text, revision)."""
    late_click_by: str = ""
    kind: str = ""
    """What was asked (``draft``, ``plan``, ``code``, ``tool``): on ``created``, outcomes and refusals."""
    tool: str = ""
    args: str = ""
    """On ``created``: the tool call's arguments as canonical JSON."""
    rule: str = ""
    """The policy rule that asked: on ``created``, outcomes and refusals."""
    risk: str = ""
    """On ``created``."""
    quorum: int = 0
    """How many different people must approve: on ``created`` and ``approval_counted`` (0 elsewhere)."""
    self_approval: str = ""
    """On ``created``: ``allow`` or ``deny`` (whether the requester may approve)."""
    deciders: str = ""
    """Comma-separated: who approved (``approved``; so far, on ``approval_counted`` and refusals), the decider
    (``revised``, ``cancelled``), "" (``expired``)."""
    count: int = 0
    """On ``approval_counted``: how many different people have approved so far."""
    shadow: str = ""
    """On ``created`` and outcomes: what the shadow rule that asked would have done (``auto``, ``deny``), else ""."""
    prev: str = ""
    hash: str = ""
    """The entry's place in its bucket's hash chain (``chain.py``): the previous entry's hash and its own; "" where
    the Redis keeps no chain."""


async def read_audit(redis: aioredis.Redis, *, since_ms: int = 0, count: int = 10_000) -> list[AuditEntry]:
    """Entries from every bucket at or after ``since_ms``, oldest first."""
    pipe = redis.pipeline(transaction=False)
    for tag in keys.all_buckets():
        pipe.xrange(keys.audit_key(tag), min=f"{since_ms}-0", max="+", count=count)
    entries = [_entry(entry_id, fields) for stream in await pipe.execute() for entry_id, fields in stream]
    entries.sort(key=lambda entry: (entry.at_ms, _sequence(entry.entry_id)))
    return entries[:count]


async def audit_pages(redis: aioredis.Redis, *, since_ms: int = 0, page: int = 1000) -> AsyncIterator[list[AuditEntry]]:
    """Every entry at or after ``since_ms``, a page at a time, bucket after bucket (oldest first in each bucket,
    not across them): for reading all of a long audit without holding it."""
    for tag in keys.all_buckets():
        start = f"{since_ms}-0"
        while True:
            batch: Any = await redis.xrange(keys.audit_key(tag), min=start, max="+", count=page)  # redis-py: Optional
            if batch:
                yield [_entry(entry_id, fields) for entry_id, fields in batch]
            if len(batch) < page:
                break
            start = "(" + as_text(batch[-1][0])


def _entry(entry_id: bytes | str, raw: dict[bytes | str, bytes | str]) -> AuditEntry:
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    return AuditEntry(
        entry_id=as_text(entry_id),
        event=fields["event"],
        approval_id=fields["id"],
        workflow_id=fields["workflow_id"],
        step=int(fields["step"]),
        workflow=fields.get("workflow", ""),
        user=fields.get("user", ""),
        at_ms=int(fields["at_ms"]),
        feedback=fields.get("feedback", ""),
        waited_ms=int(fields.get("waited_ms") or 0),
        prompt=fields.get("prompt", ""),
        prompt_sha256=fields.get("prompt_sha256", ""),
        digest=fields.get("digest", ""),
        late_click_by=fields.get("late_click_by", ""),
        kind=fields.get("kind", ""),
        tool=fields.get("tool", ""),
        args=fields.get("args", ""),
        rule=fields.get("rule", ""),
        risk=fields.get("risk", ""),
        quorum=int(fields.get("quorum") or 0),
        self_approval=fields.get("self_approval", ""),
        deciders=fields.get("deciders", ""),
        count=int(fields.get("count") or 0),
        shadow=fields.get("shadow", ""),
        prev=fields.get("prev", ""),
        hash=fields.get("hash", ""),
    )


def _sequence(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def latest_audit(redis: aioredis.Redis, *, per_bucket: int = 200) -> list[AuditEntry]:
    """The newest ``per_bucket`` entries of every bucket, newest first (``XREVRANGE``): what overviews such as the
    App Home read, bounded however long the audit is."""
    pipe = redis.pipeline(transaction=False)
    for tag in keys.all_buckets():
        pipe.xrevrange(keys.audit_key(tag), max="+", min="-", count=per_bucket)
    entries = [_entry(entry_id, fields) for stream in await pipe.execute() for entry_id, fields in stream]
    entries.sort(key=lambda entry: (entry.at_ms, _sequence(entry.entry_id)), reverse=True)
    return entries
