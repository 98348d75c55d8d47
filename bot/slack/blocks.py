"""Pure Block Kit builders for approval prompts, action ids, and mrkdwn escaping. No I/O.

Every builder returns plain dicts made by ``slack_sdk.models`` objects' ``to_dict()``, so slack-sdk has validated
each block's limits. Untrusted text (the task, the agent's output, feedback, names) is always escaped; only mentions
and dates that this module builds itself are left as control sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.approvals.models import Approval, State
from bot.config import USER_ID
from bot.slack.scopes import SLASH_COMMAND

ACTION_APPROVE = "approval_approve"
ACTION_REVISE = "approval_revise"
ACTION_CANCEL = "approval_cancel"
ACTIONS_BLOCK_ID = "approval_actions"

MAX_BLOCKS = 50  # per message
SECTION_LIMIT = 3000  # section text, and any text object
MAX_TEXT_SECTIONS = 20  # agent text shown in the message, at most...
MAX_TEXT_CHARS = 12_000  # ...and at most this many escaped characters; the rest goes to the thread
THREAD_CHUNK_LIMIT = 3000
TRUNCATED_NOTE = "… (truncated; full text in the thread)"

_NAMED_DECIDERS = {"workflow": "the workflow", "system": "the system"}
_HEADERS = {
    State.PENDING: "Approval needed",
    State.APPROVED: "✅ Approved",
    State.REVISED: "✏️ Revision requested",
    State.CANCELLED: "🛑 Cancelled",
    State.EXPIRED: "⌛ Expired",
}


# --- text ------------------------------------------------------------------------------------------------------


def escape_mrkdwn(text: str) -> str:
    """Escape the only three characters Slack's mrkdwn needs escaped; ``&`` first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_mrkdwn(text: str) -> str:
    """The inverse of ``escape_mrkdwn``, for text Slack delivers entity-escaped (``&amp;`` last)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _escaped_len(char: str) -> int:
    return 5 if char == "&" else 4 if char in "<>" else 1


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut raw ``text`` into pieces that concatenate back to it and that each fit ``limit`` once escaped.

    Cuts fall after a newline if one is in the second half of the window, else after other whitespace there, else
    mid-word. The raw text is cut before escaping, so an entity such as ``&amp;`` is never split.
    """
    if limit < len("&amp;"):
        raise ValueError(f"limit must be at least 5, got {limit}")
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end, size = start, 0
        while end < len(text) and size + _escaped_len(text[end]) <= limit:
            size += _escaped_len(text[end])
            end += 1
        if end < len(text):
            end = _break_before(text, start, end)
        chunks.append(text[start:end])
        start = end
    return chunks


def _break_before(text: str, start: int, end: int) -> int:
    floor = start + (end - start) // 2
    newline = text.rfind("\n", floor, end)
    if newline != -1:
        return newline + 1
    for index in range(end - 1, floor - 1, -1):
        if text[index].isspace():
            return index + 1
    return end


def shorten(text: str, limit: int) -> str:
    """Raw ``text`` on one line, cut to at most ``limit`` characters at a word boundary, ending in "…" if cut."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def slack_date(ms: int) -> str:
    """A Slack date token shown in the reader's time zone, with a UTC fallback."""
    seconds = ms // 1000
    fallback = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|{fallback}>"


def person(user: str) -> str:
    """A mention for a Slack user ID; anything else (``workflow``, ``system``, a name) in escaped words."""
    if USER_ID.match(user):
        return f"<@{user}>"
    if not user:
        return "someone"
    return escape_mrkdwn(_NAMED_DECIDERS.get(user, shorten(user, 80)))


def _duration(ms: int) -> str:
    minutes = ms // 60_000
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def _at(ms: int) -> str:
    return f" at {slack_date(ms)}" if ms else ""


def _title(approval: Approval) -> str:
    return escape_mrkdwn(shorten(approval.workflow or approval.workflow_id, 100))


# --- agent text layout -----------------------------------------------------------------------------------------


def _shown_chunks(prompt: str) -> tuple[list[str], bool]:
    """The raw chunks of the agent's text that fit in the message, and whether anything was left out."""
    shown: list[str] = []
    used = 0
    for chunk in split_text(prompt, SECTION_LIMIT):
        size = len(escape_mrkdwn(chunk))
        if len(shown) == MAX_TEXT_SECTIONS or used + size > MAX_TEXT_CHARS:
            return shown, True
        shown.append(chunk)
        used += size
    return shown, False


def prompt_overflow(approval: Approval) -> list[str]:
    """The agent's full text as thread messages, already escaped (post each as ``text`` as is); [] if it all fits.

    Each chunk is at most ``THREAD_CHUNK_LIMIT`` characters; whitespace-only chunks are dropped.
    """
    if not _shown_chunks(approval.prompt)[1]:
        return []
    return [escape_mrkdwn(chunk) for chunk in split_text(approval.prompt, THREAD_CHUNK_LIMIT) if chunk.strip()]


# --- blocks ----------------------------------------------------------------------------------------------------


def _block_id(name: str, approval: Approval) -> str:
    # Slack asks for new block_ids when a message is updated; the decided card gets its own.
    return name if approval.pending else f"{name}.{approval.state}"


def _meta(approval: Approval, now_ms: int | None) -> str:
    lines = [
        f"*Requested by* {person(approval.requester)} for *{_title(approval)}*, step {approval.step}"
        f" (`{escape_mrkdwn(approval.id)}`)"
    ]
    if approval.created_ms:
        lines.append(f"*Asked:* {slack_date(approval.created_ms)}")
    if approval.pending:
        expires = f"*Expires:* {slack_date(approval.deadline_ms)}"
        if now_ms is not None:
            left = approval.deadline_ms - now_ms
            expires += f" (in {_duration(left)})" if left > 0 else " (overdue)"
        lines.append(expires)
    return "\n".join(lines)


def message_link(workspace_url: str, channel: str, ts: str) -> str:
    """The permalink form of a message: ``https://acme.slack.com/archives/C123/p1714000000000100``."""
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def _revision_line(previous: Approval, workspace_url: str) -> str:
    what = "the previous prompt"
    if workspace_url and previous.channel and previous.ts:
        what = f"<{message_link(workspace_url, previous.channel, previous.ts)}|{what}>"
    line = f"↩️ This is a revision of {what} (step {previous.step})"
    line += f", requested by {person(previous.decider)}"
    if previous.feedback.strip():
        line += f". Feedback: “{escape_mrkdwn(shorten(previous.feedback, 300))}”"
    return line


def _card(approval: Approval, previous: Approval | None, now_ms: int | None, workspace_url: str) -> list[Block]:
    header = PlainTextObject(text=_HEADERS[approval.state], emoji=True)
    meta = _meta(approval, now_ms)
    blocks: list[Block] = [
        HeaderBlock(block_id=_block_id("approval_header", approval), text=header),
        SectionBlock(block_id=_block_id("approval_meta", approval), text=MarkdownTextObject(text=meta)),
    ]
    if previous is not None:
        blocks.append(_context(_block_id("approval_revision", approval), _revision_line(previous, workspace_url)))
    chunks, truncated = _shown_chunks(approval.prompt)
    texts = [escape_mrkdwn(chunk) for chunk in chunks if chunk.strip()] or ["_(the agent sent no text)_"]
    blocks += [
        SectionBlock(block_id=_block_id(f"approval_text_{index}", approval), text=MarkdownTextObject(text=text))
        for index, text in enumerate(texts)
    ]
    if truncated:
        blocks.append(_context(_block_id("approval_truncated", approval), TRUNCATED_NOTE))
    return blocks


def _context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=text)])


def _actions(approval: Approval) -> ActionsBlock:
    confirm = ConfirmObject(
        title=PlainTextObject(text="Cancel this request?"),
        text=PlainTextObject(text="The workflow stops and nothing more is done for this task."),
        confirm=PlainTextObject(text="Cancel request"),
        deny=PlainTextObject(text="Keep waiting"),
        style="danger",
    )
    return ActionsBlock(
        block_id=ACTIONS_BLOCK_ID,
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Approve", emoji=True),
                action_id=ACTION_APPROVE,
                value=approval.id,
                style="primary",
            ),
            ButtonElement(text=PlainTextObject(text="Revise", emoji=True), action_id=ACTION_REVISE, value=approval.id),
            ButtonElement(
                text=PlainTextObject(text="Cancel", emoji=True),
                action_id=ACTION_CANCEL,
                value=approval.id,
                style="danger",
                confirm=confirm,
            ),
        ],
    )


def _dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    if len(blocks) > MAX_BLOCKS:  # cannot happen with the caps above; guards future edits
        raise ValueError(f"{len(blocks)} blocks exceed Slack's {MAX_BLOCKS} per message")
    return [block.to_dict() for block in blocks]


def prompt_blocks(
    approval: Approval, *, previous: Approval | None = None, now_ms: int | None = None, workspace_url: str = ""
) -> list[dict[str, Any]]:
    """The card asking for a decision, with Approve / Revise / Cancel buttons whose ``value`` is the approval id.

    ``previous`` is the approval this one revises (its feedback is quoted, and with ``workspace_url`` its card is
    linked); ``now_ms`` adds "(in 59 min)".
    """
    return _dicts([*_card(approval, previous, now_ms, workspace_url), _actions(approval)])


def outcome_line(approval: Approval) -> str:
    """One mrkdwn line saying what was decided, by whom and when."""
    who, at = person(approval.decider), _at(approval.decided_ms)
    match approval.state:
        case State.APPROVED:
            return f"✅ Approved by {who}{at}"
        case State.REVISED:
            line = f"✏️ Revision requested by {who}{at}"
            feedback = approval.feedback.strip()
            return line + (f" — feedback: {escape_mrkdwn(shorten(feedback, 500))}" if feedback else "")
        case State.CANCELLED:
            return f"🛑 Cancelled by {who}{at}"
        case State.EXPIRED:
            when = _at(approval.decided_ms or approval.deadline_ms)
            return f"⌛ Expired{when}, no decision; the workflow was cancelled"
    raise ValueError(f"approval {approval.id} is still pending")


def decided_blocks(
    approval: Approval, *, previous: Approval | None = None, workspace_url: str = ""
) -> list[dict[str, Any]]:
    """The same card with the buttons removed and the outcome added. ``approval`` must not be pending."""
    line = outcome_line(approval)
    outcome = _context(_block_id("approval_outcome", approval), line)
    return _dicts([*_card(approval, previous, None, workspace_url), outcome])


# --- plain text ------------------------------------------------------------------------------------------------


def prompt_text(approval: Approval) -> str:
    """The notification fallback ``text`` for ``prompt_blocks``."""
    excerpt = escape_mrkdwn(shorten(approval.prompt, 150))
    return f"Approval needed for {_title(approval)} step {approval.step}: {excerpt}"


def decision_text(approval: Approval) -> str:
    """The notification fallback ``text`` for ``decided_blocks``."""
    return f"{outcome_line(approval)} ({_title(approval)} step {approval.step})"


def already_decided_text(approval: Approval) -> str:
    """The ephemeral answer to a click on a request that is no longer pending."""
    who, at = person(approval.decider), _at(approval.decided_ms)
    match approval.state:
        case State.APPROVED:
            return f"This request was already approved by {who}{at}."
        case State.REVISED:
            return f"A revision of this request was already requested by {who}{at}."
        case State.CANCELLED:
            return f"This request was already cancelled by {who}{at}."
        case State.EXPIRED:
            return f"This request expired{_at(approval.decided_ms or approval.deadline_ms)}."
    return "This request is still waiting for a decision."


def not_an_approver_text() -> str:
    return "You are not on the approvers list for this bot, so your click was not recorded."


def unknown_approval_text() -> str:
    return "This approval is unknown or too old; nothing was recorded."


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
