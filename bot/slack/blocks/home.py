"""The App Home tab: what waits for the viewer's decision (with the card's buttons), their recent requests and
decisions, and the Revise-from-Home feedback modal. Pure; no I/O.

A Home view holds at most 100 blocks (docs.slack.dev/reference/views/home-tab-views); the lists are capped so it
never needs more. The buttons are the card's own (``approval.actions``: same action ids, same ``id|digest16``
values), so a click in Home is decided by the same listeners and refused by the engine when the entry is stale.
Edit is left out: it is offered on the card, where the person sees the whole request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.approvals.audit import AuditEntry
from bot.approvals.models import Approval
from bot.slack.blocks.approval import ACTION_EDIT, actions, progress_line, title
from bot.slack.blocks.text import excerpt, link, person, slack_date, slack_relative_date

MAX_HOME_BLOCKS = 100  # home-tab-views: "Max of 100 blocks"
MAX_WAITING = 20  # entries with buttons: 3 blocks each at most
MAX_RECENT = 6  # lines per recent list (each list is one section: 3000 characters at most)
PROMPT_EXCERPT = 280
FEEDBACK_CALLBACK = "home_revise"
FEEDBACK_BLOCK = "home_feedback"
FEEDBACK_ACTION = "feedback"
FEEDBACK_MAX = 3000  # plain-text input: max_length at most 3000
DECISIONS = frozenset({"approved", "revised", "cancelled", "approval_counted"})
OUTCOMES = {
    "approved": "✅ approved",
    "revised": "✏️ revision requested",
    "cancelled": "🛑 cancelled",
    "expired": "⌛ expired",
}


@dataclass(frozen=True, slots=True)
class Waiting:
    """A pending approval the viewer may decide, and the permalink of its card."""

    approval: Approval
    card_link: str


def home_view(
    waiting: Sequence[Waiting],
    requests: Sequence[str],
    decisions: Sequence[str],
    *,
    approver: bool,
    notice: str | None = None,
    more: int = 0,
) -> dict[str, Any]:
    """The Home view: an optional ``notice`` at the top (mrkdwn from ``blocks.replies``, which escapes what it
    quotes), the approvals waiting for the
    viewer (``more``: how many more than shown), then the recent ``requests`` and ``decisions`` lines (mrkdwn, as
    ``request_lines`` / ``decision_lines`` build them)."""
    blocks: list[dict[str, Any]] = [_header("Approvals")]
    if notice:
        blocks.append(_section("home_notice", f"⚠️ {notice}"))
    blocks.append(_section("home_waiting_title", f"*Waiting for your decision* ({len(waiting) + more})"))
    for item in waiting[:MAX_WAITING]:
        blocks += _entry(item)
    if more:
        blocks.append(_context("home_more", f"…and {more} more: see the approvals channel."))
    if not waiting:
        words = "Nothing is waiting for you." if approver else "You are not an approver, so nothing here waits for you."
        blocks.append(_context("home_waiting_none", words))
    blocks.append({"type": "divider", "block_id": "home_divider_1"})
    blocks.append(_section("home_requests", "*Your recent requests*\n" + ("\n".join(requests) or "_None yet._")))
    blocks.append(_section("home_decisions", "*Your recent decisions*\n" + ("\n".join(decisions) or "_None yet._")))
    if len(blocks) > MAX_HOME_BLOCKS:  # cannot happen with the caps above; guards future edits
        raise ValueError(f"{len(blocks)} blocks exceed Slack's {MAX_HOME_BLOCKS} per Home view")
    return {"type": "home", "callback_id": "approvals_home", "blocks": blocks}


def _entry(item: Waiting) -> list[dict[str, Any]]:
    approval = item.approval
    lines = [
        f"*{title(approval)}*, step {approval.step} · requested by {person(approval.requester)}"
        f" · expires {slack_relative_date(approval.deadline_ms)}",
        f">{excerpt(approval.prompt, PROMPT_EXCERPT) or '_(no text)_'}",
    ]
    if item.card_link:
        lines.append(link(item.card_link, "Open the card in the approvals channel"))
    found = [_section(f"home_item.{approval.id}", "\n".join(lines))]
    if (progress := progress_line(approval)) is not None:
        found.append(_context(f"home_progress.{approval.id}", "👥 " + progress))
    buttons = actions(approval, f"home_actions.{approval.id}").to_dict()
    buttons["elements"] = [e for e in buttons["elements"] if e["action_id"] != ACTION_EDIT]
    return [*found, buttons]


def request_lines(entries: Sequence[AuditEntry], viewer: str, pending: Sequence[str] = ()) -> list[str]:
    """The viewer's latest requests (``created`` entries, newest first) with what became of each: the newest
    outcome among ``entries``, else waiting when its id is in ``pending``."""
    outcomes: dict[str, AuditEntry] = {}
    for entry in entries:
        if entry.event in OUTCOMES and entry.approval_id not in outcomes:
            outcomes[entry.approval_id] = entry
    lines = []
    for entry in entries:
        if entry.event != "created" or entry.user != viewer:
            continue
        outcome = outcomes.get(entry.approval_id)
        if outcome is not None:
            by = f" by {person(outcome.user)}" if outcome.event != "expired" else ""
            state = f"{OUTCOMES[outcome.event]}{by}"
        else:
            state = "⏳ waiting" if entry.approval_id in pending else "no decision recorded"
        lines.append(f"• {_what(entry)} asked {slack_date(entry.at_ms)}: {state}")
        if len(lines) == MAX_RECENT:
            break
    return lines


def decision_lines(entries: Sequence[AuditEntry], viewer: str) -> list[str]:
    """The viewer's latest decisions (newest first): approvals (towards a quorum too), revisions, cancels."""
    lines = []
    for entry in entries:
        if entry.event not in DECISIONS or viewer not in (entry.user, *entry.deciders.split(",")):
            continue
        if entry.event == "approved" and entry.user != viewer:
            continue  # a quorum completed by someone else: the viewer's own approval is its approval_counted
        words = {
            "approved": "✅ You approved",
            "approval_counted": f"👥 You approved ({entry.count} of {entry.quorum})",
            "revised": "✏️ You asked to revise",
            "cancelled": "🛑 You cancelled",
        }[entry.event]
        line = f"• {words} {_what(entry)} {slack_date(entry.at_ms)}"
        if entry.event == "revised" and entry.feedback.strip():
            line += f": {excerpt(entry.feedback, 120)}"
        lines.append(line)
        if len(lines) == MAX_RECENT:
            break
    return lines


def _what(entry: AuditEntry) -> str:
    return (
        f"*{excerpt(entry.workflow or entry.workflow_id, 60)}* step {entry.step} (`{excerpt(entry.approval_id, 80)}`)"
    )


# --- Revise from Home: the feedback modal ----------------------------------------------------------------------


def feedback_view(approval: Approval, digest: str) -> dict[str, Any]:
    """The modal asking what should change; ``private_metadata`` binds it to the version the person saw."""
    intro = f"*{title(approval)}*, step {approval.step}\n>{excerpt(approval.prompt, PROMPT_EXCERPT) or '_(no text)_'}"
    return {
        "type": "modal",
        "callback_id": FEEDBACK_CALLBACK,
        "private_metadata": f"{approval.id}|{digest}",
        "title": _plain("Ask for a revision"),
        "submit": _plain("Send to the agent"),
        "close": _plain("Cancel"),
        "blocks": [
            _section("home_feedback_intro", intro),
            {
                "type": "input",
                "block_id": FEEDBACK_BLOCK,
                "label": _plain("What should change?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": FEEDBACK_ACTION,
                    "multiline": True,
                    "max_length": FEEDBACK_MAX,
                },
            },
        ],
    }


def feedback_of(view: dict[str, Any]) -> tuple[str, str, str] | None:
    """(approval id, digest, feedback) of a submitted feedback modal; None when it is not one."""
    approval_id, _, digest = str(view.get("private_metadata") or "").partition("|")
    try:
        value = view["state"]["values"][FEEDBACK_BLOCK][FEEDBACK_ACTION]["value"]
    except (KeyError, TypeError):
        return None
    if not approval_id or not isinstance(value, str) or not value.strip():
        return None
    return approval_id, digest, value.strip()


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "block_id": "home_header", "text": _plain(text)}


def _section(block_id: str, text: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": text}}


def _context(block_id: str, text: str) -> dict[str, Any]:
    return {"type": "context", "block_id": block_id, "elements": [{"type": "mrkdwn", "text": text}]}
