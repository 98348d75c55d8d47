"""Calling the TRANSITION script: its arguments, its answers, and the nonce that makes a re-sent call harmless.

The benchmarks send the script themselves (pipelined); they build its arguments here too, so the two never drift.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from bot.approvals import keys
from bot.approvals.errors import UnknownApproval
from bot.approvals.models import Approval, as_text
from bot.approvals.settings import StoreSettings

Mode = Literal["decide", "expire", "force"]
"""``decide``: a person's decision (past the deadline it becomes an expiry); ``expire``: expire if the deadline has
passed; ``force``: expire now."""


def new_nonce() -> str:
    """Unique to one logical call: every re-send of that call carries the same one."""
    return uuid.uuid4().hex


OK = "ok"
"""This call decided it (or, with a quorum, completed it)."""
EXPIRED = "expired"
ALREADY = "already"
COUNTED = "counted"
"""An approval counted towards the quorum: the record stays pending (``approved_by`` holds it)."""
REFUSED = "refused"
"""The requester's own approval, which the terms forbid (audited ``self_approval_refused``)."""
DUPLICATE = "duplicate"
"""This person's approval is counted already (audited ``duplicate_approval``)."""
STALE = "stale"
"""The decider saw another version of the request (another digest): nothing was recorded."""
NOT_YET = "not_yet"


@dataclass(frozen=True, slots=True)
class TransitionResult:
    """What TRANSITION answered: ok | expired | already | counted | refused | duplicate (with the record), or
    not_yet (with the ms left)."""

    status: str
    approval: Approval | None = None
    ms_left: int = 0

    def record(self) -> Approval:
        assert self.approval is not None, f"no record with status {self.status}"
        return self.approval

    @property
    def changed(self) -> bool:
        """This call moved the record out of pending (a re-sent call that did so counts too)."""
        return self.status in (OK, EXPIRED)


def transition_keys(approval_id: str) -> list[str]:
    return keys.keys_for(approval_id)


def transition_args(
    approval_id: str,
    outcome: str,
    user: str,
    feedback: str,
    mode: Mode,
    *,
    nonce: str,
    settings: StoreSettings,
    sharded: bool = False,
    digest: str = "",
) -> list[str | int]:
    """``sharded``: publish the decision on the bucket's shard channel (Redis Cluster), not the classic one.
    ``digest``: the start of the digest the decider was shown; another one is refused (``stale``)."""
    return [
        approval_id,
        outcome,
        user,
        feedback,
        mode,
        int(settings.retention_s * 1000),
        keys.decided_channel(keys.bucket(approval_id)) if sharded else keys.DECIDED_CHANNEL,
        nonce,
        int(settings.report_grace_s * 1000),
        "sharded" if sharded else "classic",
        digest,
    ]


def parse_transition(approval_id: str, reply: list[object]) -> TransitionResult:
    """The script's reply as a result; ``missing`` raises ``UnknownApproval``."""
    status = as_text(reply[0])  # type: ignore[arg-type]
    if status == "missing":
        raise UnknownApproval(approval_id)
    if status == NOT_YET:
        return TransitionResult(status, ms_left=int(reply[1]))  # type: ignore[call-overload]
    return TransitionResult(status, Approval.from_values(reply[1]))  # type: ignore[arg-type]


def pairs(flat: list[bytes | str]) -> dict[str, str]:
    """A flat HGETALL reply from a script ([field, value, ...]) as a dict."""
    return {as_text(flat[i]): as_text(flat[i + 1]) for i in range(0, len(flat), 2)}
