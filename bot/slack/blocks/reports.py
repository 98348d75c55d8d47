"""Plain-words messages to the person who started a run: started, unknown workflow, how it ended. Pure; no I/O.

``outcome_report`` returns a list of messages, each at most ``REPORT_LIMIT`` UTF-16 units: Slack truncates a
message's ``text`` only past 40,000 characters but advises keeping it to a few thousand (chat.postMessage,
"Truncating content"), and ephemerals and DMs are read on phones, so 3,000 (a section's limit, should the text
ever move into blocks) it is. The approved result is never cut without saying so: it is split over numbered
messages, code blocks closed and reopened across them, and a cut inside a word is announced.
"""

from __future__ import annotations

from bot.approvals import Approval
from bot.runs import RunOutcome, RunStatus
from bot.slack.blocks.split import FENCE, Piece, split_pieces
from bot.slack.blocks.text import escape_mrkdwn, excerpt, link, person, slack_len

REPORT_LIMIT = 3000  # UTF-16 units per message
MAX_RESULT_PARTS = 20  # messages of approved result after the first, at most
_PART_HEADER = 100  # room kept in each part for "Approved result (part 12 of 20, …):"
NOTE_ROOM = 100
"""Units every message leaves free, so a caller may add a short line ("The full report is in a DM from me.")."""


def started_text(
    workflow: str, workflow_id: str, task: str, approvals_channel: str, *, card_link: str | None = None
) -> str:
    """The answer to ``/agent-task``; send it again with ``card_link`` (the card's permalink) once it exists.

    An empty ``task`` (a caller that no longer has it) leaves the task out rather than showing an empty quote."""
    where = (
        f"Approval card: {link(card_link, 'here')}."
        if card_link
        else f"Approval prompts will appear in <#{approvals_channel}>."
    )
    what = f": {excerpt(task, 200)}" if task.strip() else ""
    run = f"*{excerpt(workflow, 100)}* (`{excerpt(workflow_id, 80)}`)"
    return f"Started {run}{what}\n{where} I will tell you how it ends."


def dm_report_intro(channel: str, task: str, card_link: str | None = None) -> str:
    """The first line of a report sent by DM (when the response_url can no longer be used): what it is about."""
    card = f" Card: {link(card_link, 'view')}." if card_link else ""
    return f"You asked in <#{channel}>: “{excerpt(task, 200)}”.{card}"


def denied_text(workflow: str, workflow_id: str, approval: Approval, rule: str) -> str:
    """The policy refused a step: what it was, and the rule (the agent is told too, and goes on or stops)."""
    run = f"*{excerpt(workflow, 100)}* (`{excerpt(workflow_id, 80)}`)"
    what = excerpt(approval.prompt, 300)  # one line, escaped once
    return f"🚫 Your {run}: the policy rule `{excerpt(rule, 80)}` refused step {approval.step}:\n>{what}"


def outcome_report(outcome: RunOutcome, *, limit: int = REPORT_LIMIT) -> list[str]:
    """How a run ended, for its requester: one message, or the first saying how it ended and then the approved
    result split over numbered messages ("Approved result (part 2 of 3):"), each within ``limit``."""
    run = f"*{excerpt(outcome.workflow, 100)}* (`{excerpt(outcome.workflow_id, 80)}`)"
    detail = excerpt(outcome.detail, 300)
    match outcome.status:
        case RunStatus.APPROVED:
            first = f"✅ Your {run} was approved by {person(outcome.decided_by)}."
            return _with_result(first, outcome.output.strip(), limit)
        case RunStatus.DONE:
            return _with_result(f"✅ Your {run} finished.", outcome.output.strip(), limit, label="result")
        case RunStatus.CANCELLED:
            if outcome.decided_by:
                return [f"🛑 Your {run} was cancelled by {person(outcome.decided_by)}."]
            return [f"🛑 Your {run} was cancelled: {detail}." if detail else f"🛑 Your {run} was cancelled."]
        case RunStatus.EXPIRED:
            return [
                f"⌛ Your {run} expired: nobody decided before the deadline, so nothing was done (it was not"
                " refused). An approver can still click *Ask again* on its card for a while."
            ]
        case RunStatus.FAILED:
            return [f"⚠️ Your {run} stopped: {detail or 'the agent failed'}. Nothing was approved."]


def _with_result(first: str, output: str, limit: int, label: str = "approved result") -> list[str]:
    if not output:
        return [first]
    # Shown verbatim in a code block, unless it has code blocks of its own (fences do not nest).
    body = output if FENCE in output else f"{FENCE}\n{output}\n{FENCE}"
    whole = f"{first} The {label}:\n{escape_mrkdwn(body)}"
    if slack_len(whole) <= limit - NOTE_ROOM:
        return [whole]
    pieces = split_pieces(body, limit - _PART_HEADER - NOTE_ROOM)
    shown = pieces[:MAX_RESULT_PARTS]
    total = len(shown)
    if len(pieces) > total:
        left_out = sum(len(piece.text) for piece in pieces[total:])
        first += (
            f" The {label} is too long to send in full: the next {total} messages hold its start,"
            f" and about {left_out:,} more characters are not sent."
        )
    else:
        first += f" The {label} follows in {total} messages."
    return [first, *(_part(piece, index, total, shown, label) for index, piece in enumerate(shown, start=1))]


def _part(piece: Piece, number: int, total: int, pieces: list[Piece], label: str) -> str:
    header = f"{label.capitalize()} (part {number} of {total}"
    if number > 1 and pieces[number - 2].mid_word:
        header += f", continuing a word cut at the end of part {number - 1}"
    return f"{header}):\n{escape_mrkdwn(piece.text)}"
