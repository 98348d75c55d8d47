"""What a revised card says about the version it revises: its revision number, the feedback that caused it, a
link back, a compact diff of the text, and whether another revision may be asked for. Pure; no I/O."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bot.approvals.models import Approval
from bot.slack.blocks.text import escape_mrkdwn, excerpt, link, message_link, person, slack_len

LOOKALIKE_BACKTICK = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT
MAX_LINE = 300
MAX_DIFF_CHARS = 900
"""The diff's share of a card (escaped UTF-16 units), within ``approval.MAX_CARD_TEXT`` with the rest."""


@dataclass(frozen=True, slots=True)
class Revision:
    """This card's place in a run's revisions: ``number`` 1 is the first revision of the original version."""

    previous: Approval
    """The version this one revises (decided ``revised``)."""
    number: int = 1
    limit: int | None = None
    """``MAX_REVISIONS``: a Revise on revision ``limit`` ends the run; None says nothing of a limit."""


def revision_line(revision: Revision, workspace_url: str, *, pending: bool) -> str:
    previous = revision.previous
    what = "the previous version"
    if workspace_url and previous.channel and previous.ts:
        what = link(message_link(workspace_url, previous.channel, previous.ts), what)
    of = f" of at most {revision.limit}" if revision.limit is not None else ""
    line = (
        f"↩️ Revision {revision.number}{of}: this is a revision of {what} (step {previous.step}), requested by"
        f" {person(previous.decider)}"
    )
    if previous.feedback.strip():
        line += f". Feedback: “{excerpt(previous.feedback, 300)}”"
    if pending and last_allowed(revision):
        line += ". This is the last revision allowed: a Revise here ends the run."
    return line


def last_allowed(revision: Revision | None) -> bool:
    return revision is not None and revision.limit is not None and revision.number >= revision.limit


def diff_text(before: str, after: str, *, title: str = "Changes since the previous version") -> str:
    """The lines that changed, ``-`` old and ``+`` new, in a code block; capped at ``MAX_DIFF_CHARS``."""
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]
    if not changed:
        return f"*{title}:* none to the text."
    shown: list[str] = []
    used = 0
    for line in changed:
        # A backtick run could close the code block early; a look-alike keeps the line readable.
        cut = line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"  # indentation kept: code diffs need it
        escaped = escape_mrkdwn(cut).replace("`", LOOKALIKE_BACKTICK)
        if used + slack_len(escaped) + 1 > MAX_DIFF_CHARS:
            break
        shown.append(escaped)
        used += slack_len(escaped) + 1
    more = len(changed) - len(shown)
    tail = f"\n… and {more} more changed line{'s' if more != 1 else ''}" if more else ""
    return f"*{title}:*\n```\n" + "\n".join(shown) + "\n```" + tail
