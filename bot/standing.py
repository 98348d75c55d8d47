"""Standing approvals: "Approve, and allow this for the rest of the run" (or for a time box), so the same safe
tool call stops asking.

A standing approval is granted from a tool-call card by an approver, together with that call's approval. Its scope
is this run, or a time box over the same requester's runs of the same workflow; it covers the tool alone (any
arguments) or the tool with exactly these arguments. It applies only under the policy it was granted under (the
digest of the rules the granting bot had loaded: a changed policy ends it), only to a call the policy would have
one person approve (never to ``ask_two`` or ``deny``), and until it is revoked from its card or its time runs out.
Every call it approves is decided as ``standing:<id>`` in the audit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.models import as_text

SCOPES = ("run", "timebox")
DECIDER = "standing"
"""Calls a standing approval approves are decided by ``standing:<id>``."""
_KEY = f"{keys.PREFIX}:standing"


@dataclass(frozen=True, slots=True)
class Standing:
    id: str
    scope: str
    """``run``: this run only; ``timebox``: the requester's runs of this workflow until ``expires_ms``."""
    tool: str
    args: str
    """The arguments as canonical JSON, or "" for any arguments."""
    workflow_id: str
    workflow: str
    requester: str
    granted_by: str
    granted_ms: int
    expires_ms: int
    policy_digest: str
    approval_id: str
    """The approval whose card granted it (and can revoke it)."""
    revoked_by: str = ""

    def covers(self, tool: str, args: str, workflow_id: str, now_ms: int) -> bool:
        if self.revoked_by or self.tool != tool or (self.args and self.args != args):
            return False
        if self.scope == "run":
            return self.workflow_id == workflow_id
        return now_ms < self.expires_ms


def new_id() -> str:
    return f"st-{uuid.uuid4().hex[:12]}"


_GRANT = "allowed:"


def grant_feedback(standing_id: str) -> str:
    """The feedback of the approval that granted ``standing_id`` (its card shows the grant and can revoke it)."""
    return _GRANT + standing_id


def granted(feedback: str) -> str | None:
    """The standing approval an approval's feedback says it granted, or None."""
    return feedback[len(_GRANT) :] if feedback.startswith(_GRANT) and len(feedback) < 64 else None


def canonical_args(args: Mapping[str, Any]) -> str:
    return json.dumps(dict(args), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_args_text(args: str) -> str:
    """``canonical_args`` of arguments held as JSON text (an approval's ``Terms.args``)."""
    try:
        parsed = json.loads(args) if args else {}
    except ValueError:
        return args
    return canonical_args(parsed) if isinstance(parsed, dict) else args


class StandingApprovals:
    def __init__(self, redis: aioredis.Redis, *, retention_s: float, timebox_s: float) -> None:
        self._redis = redis
        self._retention_ms = int(retention_s * 1000)
        self.timebox_s = timebox_s

    async def grant(
        self,
        standing_id: str,
        *,
        scope: str,
        exact: bool,
        tool: str,
        args: str,
        workflow_id: str,
        workflow: str,
        requester: str,
        granted_by: str,
        policy_digest: str,
        approval_id: str,
    ) -> Standing:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        now_ms = int(time.time() * 1000)
        expires_ms = now_ms + int(self.timebox_s * 1000) if scope == "timebox" else 0
        standing = Standing(
            id=standing_id,
            scope=scope,
            tool=tool,
            args=args if exact else "",
            workflow_id=workflow_id,
            workflow=workflow,
            requester=requester,
            granted_by=granted_by,
            granted_ms=now_ms,
            expires_ms=expires_ms,
            policy_digest=policy_digest,
            approval_id=approval_id,
        )
        ttl_ms = expires_ms - now_ms if scope == "timebox" else self._retention_ms
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(f"{_KEY}:{standing.id}", json.dumps(asdict(standing)), px=max(ttl_ms, 1))
        index = _index(standing.scope, workflow_id, workflow, requester)
        pipe.sadd(index, standing.id)
        pipe.pexpire(index, max(ttl_ms, self._retention_ms))
        await pipe.execute()
        return standing

    async def get(self, standing_id: str) -> Standing | None:
        raw = await self._redis.get(f"{_KEY}:{standing_id}")
        return Standing(**json.loads(as_text(raw))) if raw is not None else None

    async def find(
        self, *, tool: str, args: str, workflow_id: str, workflow: str, requester: str, policy_digest: str
    ) -> Standing | None:
        """A standing approval that covers this call, granted under this policy, if one does."""
        ids = set()
        for scope in SCOPES:
            ids |= {as_text(i) for i in await self._redis.smembers(_index(scope, workflow_id, workflow, requester))}
        now_ms = int(time.time() * 1000)
        for standing_id in sorted(ids):
            standing = await self.get(standing_id)
            if (
                standing is not None
                and standing.policy_digest == policy_digest
                and standing.covers(tool, args, workflow_id, now_ms)
            ):
                return standing
        return None

    async def revoke(self, standing_id: str, user: str) -> Standing | None:
        """Revoke it (from its card); the revoked standing approval, or None if it is gone or was revoked."""
        standing = await self.get(standing_id)
        if standing is None or standing.revoked_by:
            return None
        key = f"{_KEY}:{standing_id}"
        revoked = Standing(**{**asdict(standing), "revoked_by": user})
        await self._redis.set(key, json.dumps(asdict(revoked)), keepttl=True)
        return revoked


def _index(scope: str, workflow_id: str, workflow: str, requester: str) -> str:
    if scope == "run":
        return f"{_KEY}:run:{workflow_id}"
    return f"{_KEY}:timebox:{workflow}:{requester}"
