"""The card of several tool calls the agent made in one turn: every call with its own Approve / Revise / Cancel
(and its quorum's progress), its outcome once decided, and "Approve all" for those still pending. Pure; no I/O.

A call goes on such a card only if it is shown there in full (``fits_one_card``): what a person approves is
exactly what runs, so a call too long for its share of the card gets a card of its own (with its overflow in the
thread) instead of an excerpt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.approvals.models import Approval
from bot.slack.blocks.approval import (
    MAX_BLOCKS,
    MAX_TEXT_CHARS,
    actions,
    approvers_line,
    button_value,
    context,
    dicts,
    meta,
    no_rule_matched,
    outcome_line,
    progress_line,
    title,
)
from bot.slack.blocks.standing import allow_actions, standing_blocks
from bot.slack.blocks.text import HEADER_LIMIT, SECTION_LIMIT, escape_mrkdwn, excerpt, slack_len
from bot.standing import Standing

ACTION_APPROVE_ALL = "approval_approve_all"
MAX_CALLS = 10
"""Calls on one card: each takes up to three blocks (text, buttons, progress), within Slack's 50 per message."""
_CALL_HEAD = "*Call {number} of {total}*\n"


def _call_text(approval: Approval, number: int, total: int) -> str:
    text = _CALL_HEAD.format(number=number, total=total) + escape_mrkdwn(approval.prompt)
    return text + ("\n_No policy rule matched: one approver decides._" if no_rule_matched(approval) else "")


def fits_one_card(approvals: Sequence[Approval]) -> bool:
    """Whether these calls can be shown together, each in full, on one card."""
    if not 2 <= len(approvals) <= MAX_CALLS:
        return False
    sizes = [slack_len(_call_text(a, i, len(approvals))) for i, a in enumerate(approvals, start=1)]
    return max(sizes) <= SECTION_LIMIT and sum(sizes) <= MAX_TEXT_CHARS


def _version(approvals: Sequence[Approval]) -> str:
    """Changes whenever any call's state or progress does: block ids change with every update, as Slack asks."""
    seen = "|".join(f"{a.id}:{a.state}:{','.join(a.approved_by)}" for a in approvals)
    return hashlib.sha256(seen.encode()).hexdigest()[:8]


def calls_blocks(
    approvals: Sequence[Approval],
    *,
    approvers: Sequence[str] = (),
    mention: bool = True,
    timebox_s: float = 0,
    standing: Mapping[str, Standing] | None = None,
) -> list[dict[str, Any]]:
    """The card for ``approvals`` (one turn's calls, in the model's order; ``fits_one_card``), pending or not.
    ``timebox_s`` > 0 offers standing approvals on each pending call; ``standing`` are those granted, by the id
    of the approval that granted them."""
    first, total, version = approvals[0], len(approvals), _version(approvals)
    pending = [a for a in approvals if a.pending]
    heading = f"Approval needed: {total} tool calls" if pending else f"Decided: {total} tool calls"
    still = (
        f"*Steps* {first.step} to {approvals[-1].step}; {len(pending)} of {total} still waiting for a decision."
        if pending
        else f"*Steps* {first.step} to {approvals[-1].step}; every call is decided."
    )
    blocks: list[Block] = [
        HeaderBlock(block_id=f"calls_header.{version}", text=PlainTextObject(text=heading[:HEADER_LIMIT], emoji=True)),
        SectionBlock(
            block_id=f"calls_meta.{version}",
            text=MarkdownTextObject(
                text=meta(
                    first, "" if pending else "decided", approvers_line(approvers, mention=mention), policy_line=False
                )
                + "\n"
                + still
            ),
        ),
    ]
    for number, approval in enumerate(approvals, start=1):
        text = _call_text(approval, number, total)
        blocks.append(SectionBlock(block_id=f"call_{number}.{version}", text=MarkdownTextObject(text=text)))
        if approval.pending:
            blocks.append(actions(approval, f"call_{number}_actions.{version}"))
            blocks += allow_actions(approval, f"call_{number}_allow.{version}", timebox_s)
            if (line := progress_line(approval)) is not None:
                blocks.append(context(f"call_{number}_progress.{version}", "👥 " + line))
        else:
            blocks.append(context(f"call_{number}_outcome.{version}", outcome_line(approval)))
            granted = (standing or {}).get(approval.id)
            blocks += standing_blocks(approval, granted, f"call_{number}_standing.{version}")
    if len(pending) > 1:
        blocks.append(_approve_all(pending, version))
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"{total} calls need {len(blocks)} blocks, more than Slack's {MAX_BLOCKS}")
    return dicts(blocks)


def _approve_all(pending: Sequence[Approval], version: str) -> ActionsBlock:
    label = f"Approve all {len(pending)}"
    confirm = ConfirmObject(
        title=PlainTextObject(text="Approve every pending call?"),
        text=PlainTextObject(text=f"The {len(pending)} calls still waiting run with exactly the arguments shown."),
        confirm=PlainTextObject(text=label),
        deny=PlainTextObject(text="Back"),
    )
    button = ButtonElement(
        text=PlainTextObject(text=label, emoji=True),
        action_id=ACTION_APPROVE_ALL,
        value=",".join(button_value(a) for a in pending),  # exactly the calls this version of the card showed
        style="primary",
        confirm=confirm,
    )
    return ActionsBlock(block_id=f"calls_all.{version}", elements=[button])


def calls_text(approvals: Sequence[Approval]) -> str:
    """The notification fallback ``text`` of ``calls_blocks``."""
    first = approvals[0]
    tools = ", ".join(dict.fromkeys(a.terms.tool or "a tool" for a in approvals))
    pending = sum(1 for a in approvals if a.pending)
    state = f"{pending} waiting for a decision" if pending else "all decided"
    return excerpt(f"{len(approvals)} tool calls for {title(first)} ({tools}): {state}", 300)
