"""Plain-words messages to the person who started a run: started, unknown workflow, how it ended."""

from __future__ import annotations

from collections.abc import Mapping

from bot.runs import RunOutcome, RunStatus
from bot.slack.blocks import escape_mrkdwn, person, shorten, usage_text

_OUTPUT_LIMIT = 2500


def started_text(workflow: str, workflow_id: str, task: str, approvals_channel: str) -> str:
    return (
        f"Started *{escape_mrkdwn(workflow)}* (`{workflow_id}`): {escape_mrkdwn(shorten(task, 200))}\n"
        f"Approval prompts will appear in <#{approvals_channel}>. I will tell you here how it ends."
    )


def unknown_workflow_text(name: str, workflows: Mapping[str, str]) -> str:
    default = next(iter(workflows))
    usage = usage_text(workflows, default=default)  # escapes its own text
    shown = escape_mrkdwn(default)
    hint = f"To give the whole text to the {shown} workflow, start it with `{shown}:`."
    return f"There is no workflow called “{escape_mrkdwn(name)}”. {hint}\n{usage}"


def not_an_approver_reply_text() -> str:
    return "Only approvers' replies count as feedback; yours was not sent to the agent."


def outcome_report(outcome: RunOutcome) -> str:
    """How a run ended, for its requester."""
    run = f"*{escape_mrkdwn(outcome.workflow)}* (`{outcome.workflow_id}`)"
    detail = escape_mrkdwn(shorten(outcome.detail, 300))
    match outcome.status:
        case RunStatus.APPROVED:
            text = f"✅ Your {run} was approved by {person(outcome.decided_by)}."
            if outcome.output.strip():
                output = escape_mrkdwn(outcome.output.strip()[:_OUTPUT_LIMIT])
                text += f" The approved result:\n```{output}```"
            return text
        case RunStatus.CANCELLED:
            if outcome.decided_by:
                return f"🛑 Your {run} was cancelled by {person(outcome.decided_by)}."
            return f"🛑 Your {run} was cancelled: {detail}." if detail else f"🛑 Your {run} was cancelled."
        case RunStatus.EXPIRED:
            return f"⌛ Your {run} expired: nobody decided before the deadline, so it was cancelled."
        case RunStatus.FAILED:
            return f"⚠️ Your {run} stopped: {detail or 'the agent failed'}. Nothing was approved."
