"""What an MCP tool answers about an approval: the structured result (the tools' ``outputSchema``), one readable
line saying what to do, and the same result as JSON text ("For backwards compatibility, a tool that returns
structured content SHOULD also return the serialized JSON in a TextContent block":
modelcontextprotocol.io/specification/2025-06-18/server/tools#structured-content).
"""

from __future__ import annotations

from typing import Literal

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from bot.approvals.policy import POLICY_DECIDER
from bot.client import Decision

Status = Literal["pending", "approved", "revised", "cancelled", "expired", "denied"]
"""``bot.client.Status``, and pending."""


class ApprovalResult(BaseModel):
    """The state of one approval as an MCP client sees it."""

    status: Status = Field(
        description="pending (nobody has decided yet: call get_approval), approved (go ahead), revised (change the "
        "request as the feedback says and ask again), cancelled, expired (nobody decided in time) or denied (a "
        "policy rule refused it); only approved means go ahead"
    )
    approval_id: str = Field(description="the approval's id: pass it to get_approval")
    by: str | None = Field(
        default=None, description="who decided: a Slack user ID, or policy:<rule> when a rule decided"
    )
    at: str | None = Field(default=None, description="when it was decided (ISO 8601, UTC)")
    feedback: str | None = Field(
        default=None, description="the approver's feedback (revised), or the reason (denied, cancelled by the bot)"
    )
    rule: str | None = Field(default=None, description="the policy rule that matched the request, if any")


def pending(approval_id: str) -> ApprovalResult:
    return ApprovalResult(status="pending", approval_id=approval_id)


def decided(decision: Decision) -> ApprovalResult:
    return ApprovalResult(
        status=decision.status,
        approval_id=decision.approval_id,
        by=decision.by or None,
        at=decision.at.isoformat() if decision.at is not None else None,
        feedback=decision.feedback or None,
        rule=decision.rule or None,
    )


def describe(result: ApprovalResult) -> str:
    """One line in plain words, ending with what the asker should do."""
    by_rule = result.by is not None and result.by.startswith(f"{POLICY_DECIDER}:")
    who = f" by policy rule {result.rule}" if by_rule and result.rule else f" by {result.by}" if result.by else ""
    when = f" at {result.at}" if result.at else ""
    ref = f"approval {result.approval_id}"
    feedback = f' Feedback: "{result.feedback}".' if result.feedback else ""
    match result.status:
        case "approved":
            return f"Approved{who}{when} ({ref}). Go ahead."
        case "revised":
            return f"Revision requested{who}{when} ({ref}).{feedback} Change the request accordingly and ask again."
        case "cancelled":
            return f"Cancelled{who}{when} ({ref}).{feedback} Do not go ahead."
        case "expired":
            return f"Nobody decided before the deadline ({ref}). Nothing was approved. Do not go ahead."
        case "denied":
            reason = f" {result.feedback}." if result.feedback else ""
            return f"Refused{who}{when} ({ref}).{reason} Do not go ahead."
        case _:
            return (
                f"Waiting for a person to decide in Slack ({ref}). Nothing is approved yet: call get_approval "
                f'with approval_id "{result.approval_id}" to wait for the decision.'
            )


def tool_result(result: ApprovalResult) -> CallToolResult:
    return CallToolResult(
        content=[
            TextContent(type="text", text=describe(result)),
            TextContent(type="text", text=result.model_dump_json()),
        ],
        structured_content=result.model_dump(mode="json"),
    )
