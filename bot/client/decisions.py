"""What an asker gets back: a typed decision, read from the engine's record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.approvals.models import Approval, State
from bot.approvals.policy import POLICY_DECIDER

Status = Literal["approved", "revised", "cancelled", "expired", "denied"]


@dataclass(frozen=True)
class Decision:
    """How an approval ended.

    ``status``: ``approved``; ``revised`` (a person asked for changes: ``feedback`` says which); ``cancelled`` (a
    person, or the bot when it could not post the card: ``feedback`` then says why); ``expired`` (nobody decided
    before the deadline; not a refusal, but nothing was approved); ``denied`` (a ``deny`` rule of the policy
    refused it at once: ``feedback`` is the reason).
    """

    approval_id: str
    status: Status
    by: str | None
    """Who decided: a Slack user id, ``policy:<rule>``, ``standing:<id>``, ``bot``; None when it expired."""
    at: datetime | None
    """When (UTC)."""
    feedback: str | None
    """The revision feedback (revised), the reason (denied, or cancelled by the bot); None when there is none."""
    rule: str | None
    """The policy rule that applied (``default`` when none matched); None if the record names none."""
    approved_by: tuple[str, ...] = ()
    """Everyone who approved, in order (two people for a rule that asks two)."""

    @property
    def approved(self) -> bool:
        return self.status == "approved"


@dataclass(frozen=True)
class Request:
    """An approval asked for: its id (wait on it with ``ApprovalClient.wait``), and the decision when the policy
    decided at once (``auto``: approved; ``deny``: denied); None while a person is to decide."""

    approval_id: str
    decision: Decision | None


def decision_of(approval: Approval) -> Decision | None:
    """The decision an approval record holds, or None while it is pending."""
    if approval.pending:
        return None
    status: Status = approval.state.value  # type: ignore[assignment]
    if approval.state is State.CANCELLED and approval.decider.startswith(f"{POLICY_DECIDER}:"):
        status = "denied"
    when_ms = approval.decided_ms or (approval.deadline_ms if approval.state is State.EXPIRED else 0)
    return Decision(
        approval_id=approval.id,
        status=status,
        by=approval.decider or None,
        at=datetime.fromtimestamp(when_ms / 1000, UTC) if when_ms else None,
        feedback=approval.feedback or None,
        rule=approval.terms.rule or None,
        approved_by=approval.approved_by,
    )
