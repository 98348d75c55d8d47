"""Plain-words answers: private replies to clicks and thread replies, the message posted in a card's thread
after a Revise click, and the slash command's help. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.approvals.models import Approval, State
from bot.slack.blocks.text import at_date, escape_mrkdwn, person, shorten
from bot.slack.scopes import SLASH_COMMAND


def already_decided_text(approval: Approval) -> str:
    """The ephemeral answer to a click on a request that is no longer pending."""
    who, at = person(approval.decider), at_date(approval.decided_ms)
    match approval.state:
        case State.APPROVED:
            return f"This request was already approved by {who}{at}."
        case State.REVISED:
            return f"A revision of this request was already requested by {who}{at}."
        case State.CANCELLED:
            return f"This request was already cancelled by {who}{at}."
        case State.EXPIRED:
            return f"This request expired{at_date(approval.decided_ms or approval.deadline_ms)}."
    return "This request is still waiting for a decision."


def not_an_approver_text() -> str:
    """The private answer to a click by someone who may not decide."""
    return "You are not on the approvers list for this bot, so your click was not recorded."


def unknown_approval_text() -> str:
    return "This approval is unknown or too old; nothing was recorded."


def revise_request_text(user: str, *, bot_user: str = "", what: str = "") -> str:
    """The one message posted in a card's thread after a Revise click by ``user``.

    ``bot_user`` (the bot's user ID) adds how to send feedback at any time: a reply that mentions the bot.
    ``what`` names the call on a card of several (``call 2 (`send_email`)``).
    """
    to = f" to {what}" if what else ""
    text = (
        f"{person(user)} asked for changes{to}. Reply in this thread with what should change: the first reply"
        " from an approver after this message goes back to the agent. Other replies here stay discussion"
    )
    if bot_user:
        return text + f", unless they mention {person(bot_user)}."
    return text + "."


def revise_already_asked_text(asked_by: str) -> str:
    """The private answer to a second Revise click on one card (the thread has its request already)."""
    return (
        f"{person(asked_by)} already asked for changes on this request: reply in its thread with what should"
        " change, and the first approver's reply goes back to the agent."
    )


def non_approver_reply_text() -> str:
    """The private answer to a non-approver's reply in a card's thread (told once per card)."""
    return (
        "Only approvers' replies can go back to the agent, so yours stays here as discussion."
        " I will not tell you again for this request."
    )


def usage_text(workflows: Mapping[str, str], *, default: str | None = None) -> str:
    """How to use the slash command, and each workflow with its one-line description."""
    default_note = f" ({default})" if default else ""
    lines = [
        "Usage:",
        f"• `{SLASH_COMMAND} <task>` runs the default workflow{default_note}",
        f"• `{SLASH_COMMAND} <workflow>: <task>` runs the named workflow",
        f"• `{SLASH_COMMAND} help` shows this help",
    ]
    if workflows:
        lines.append("Workflows:")
        lines += [f"• `{name}`: {shorten(description, 150)}" for name, description in sorted(workflows.items())]
    else:
        lines.append("No workflows are registered.")
    return escape_mrkdwn("\n".join(lines))


def not_started_text() -> str:
    """The answer to ``/agent-task`` when the run could not be recorded (Redis did not answer)."""
    return "The approval service is briefly unavailable, so nothing was started. Try again in a moment."


def already_counted_text(approval: Approval) -> str:
    """The private answer to a second Approve by the same person on a request that needs several approvers."""
    needed, got = approval.terms.quorum, len(approval.approved_by)
    return (
        f"Your approval is counted already ({got} of {needed}). This request needs {needed} different approvers,"
        " so someone else has to approve it; your second click was not counted."
    )


def self_approval_refused_text() -> str:
    """The private answer to a requester approving their own request where self-approval is denied."""
    return (
        "You started this run, so you cannot approve its requests yourself (separation of duties); another"
        " approver has to. Your click was not recorded as an approval (the attempt is in the audit log)."
    )


ASK_AGAIN_REFUSALS = {
    "missing": "This run is too old to ask again; start a new task instead.",
    "not_expired": "This run did not end by expiring, so there is nothing to ask again.",
    "other_step": "The run went on past this step, so there is nothing to ask again here.",
    "too_late": "This expired too long ago to ask again (ASK_AGAIN_WINDOW); start a new task instead.",
    "running": "Someone asked again already: the run is picking this step up.",
    "finishing": "The run is still ending after the expiry; click Ask again in a moment.",
}


def ask_again_text(status: str) -> str:
    """The private answer to "Ask again": done (``ok``), or why not."""
    if status == "ok":
        return "Asked again: the run picks this step up, and this card asks for a decision again in a moment."
    return ASK_AGAIN_REFUSALS.get(status, "That did not work; nothing was changed.")


def stale_version_text() -> str:
    """The private answer to a click on a version of a card that no longer shows what the request asks."""
    return (
        "That click was on another version of this request than the one it asks about now, so nothing was"
        " recorded. Read the card as it is now and decide again."
    )


def approve_all_refused_text(refusals: Sequence[str]) -> str:
    """The private answer to "Approve all" when some calls could not be approved by this person."""
    return "Not every call was approved by your click:\n" + "\n".join(f"• {line}" for line in refusals)
