"""The approval card: pending (with Approve / Revise / Cancel) and decided (with the outcome), its fallback texts
and the agent's text that goes to the card's thread when the card cannot hold it all. Pure; no I/O.

Budgets (UTF-16 units of escaped text): the agent's text gets ``MAX_TEXT_CHARS`` over at most
``MAX_TEXT_SECTIONS`` sections; everything else on the card is capped so that a card never carries more than
``MAX_CARD_TEXT`` in all, below the total Slack refuses with ``msg_blocks_too_long`` (measured near 13,200,
slackapi/bolt-js#2509; undocumented, so we stay well under it).
"""

from __future__ import annotations

from collections.abc import Sequence
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

from bot import edits
from bot.approvals.models import Approval, State
from bot.approvals.policy import DEFAULT_RULING
from bot.approvals.requests import EXTERNAL
from bot.config import USERGROUP_ID
from bot.edits import EDITABLE_KINDS
from bot.slack.blocks.revisions import Revision, diff_text, revision_line
from bot.slack.blocks.split import iter_pieces, split_text
from bot.slack.blocks.text import (
    HEADER_LIMIT,
    SECTION_LIMIT,
    at_date,
    escape_mrkdwn,
    excerpt,
    mentions,
    person,
    slack_date,
    slack_len,
    slack_relative_date,
)

ACTION_APPROVE = "approval_approve"
ACTION_REVISE = "approval_revise"
ACTION_CANCEL = "approval_cancel"
ACTION_EDIT = "approval_edit"
ACTION_ASK_AGAIN = "approval_ask_again"
ASK_AGAIN_KINDS = frozenset({"draft", "plan", "code"})
"""Requests whose expiry ends their run, so that the run can ask them again (an expired tool call is a refusal the
agent reads, and its run goes on)."""
ACTIONS_BLOCK_ID = "approval_actions"
DIGEST_CHARS = 16
"""Hex digits of a request's sha256 a button carries: 64 bits, far past any accidental match."""

MAX_BLOCKS = 50  # per message (docs.slack.dev/reference/block-kit/blocks)
MAX_CONTEXT_ELEMENTS = 10  # per context block (docs.slack.dev/reference/block-kit/blocks/context-block)
MAX_CARD_TEXT = 12_000  # all text on one card, in UTF-16 units
MAX_TEXT_SECTIONS = 20  # agent text shown in the message, at most...
MAX_TEXT_CHARS = 10_000  # ...and at most this many escaped UTF-16 units; the rest goes to the thread
THREAD_CHUNK_LIMIT = 3000
TRUNCATED_NOTE = "… (truncated; full text in the thread)"
ANYONE_MAY_DECIDE = "*Who may decide:* anyone in this channel (no approvers are configured)."
NO_TEXT = "_(the agent sent no text)_"

DEFAULT_RULE = DEFAULT_RULING.rule
"""The rule name of a request no policy rule matched."""
_WITHDRAWN = "withdrawn"
WITHDRAWN_NOTE = "The bot could not record this request, so nothing can be decided here; the run was stopped."
LOST_NOTE = (
    "The record of this request was lost (Redis restarted without its data), so nothing can be decided here;"
    " the run was stopped."
)
_HEADERS: dict[str, str] = {
    _WITHDRAWN: "⚠️ Withdrawn",
    State.PENDING: "Approval needed",
    State.APPROVED: "✅ Approved",
    State.REVISED: "✏️ Revision requested",
    State.CANCELLED: "🛑 Cancelled",
    State.EXPIRED: "⌛ Expired",
}


def title(approval: Approval) -> str:
    return excerpt(approval.workflow or approval.workflow_id, 100)


def subject(approval: Approval) -> str:
    """What the approval is part of, in words: a run's workflow and step, or a request from outside the bot."""
    if approval.workflow == EXTERNAL:
        return "a request from outside the bot"
    return f"{title(approval)} step {approval.step}"


def approvers_line(approvers: Sequence[str], *, mention: bool = True) -> str:
    """Who may decide, for the card: mentions (which notify them), a count, or "anyone in this channel".

    mrkdwn has no way to name a user or group without notifying them (``<@U…>`` and ``<!subteam^S…>`` always
    mention; a readable name would need ``users.info``, which a pure builder cannot call), so with
    ``mention=False`` the card says how many people and groups may decide instead of naming them.
    """
    if not approvers:
        return ANYONE_MAY_DECIDE
    if mention:
        return f"*Approvers:* {mentions(approvers)}"
    unique = set(approvers)
    groups = sum(1 for a in unique if USERGROUP_ID.match(a))
    counts = [_count(len(unique) - groups, "person", "people"), _count(groups, "user group", "user groups")]
    return f"*Who may decide:* only approvers ({' and '.join(c for c in counts if c)})."


def _count(n: int, one: str, many: str) -> str:
    return "" if n == 0 else f"1 {one}" if n == 1 else f"{n} {many}"


# --- agent text layout -----------------------------------------------------------------------------------------


def _shown_chunks(prompt: str) -> tuple[list[str], bool]:
    """The raw chunks of the agent's text that fit in the message, and whether anything was left out."""
    shown: list[str] = []
    used = 0
    for piece in iter_pieces(prompt, SECTION_LIMIT):
        chunk = piece.text
        size = slack_len(escape_mrkdwn(chunk))
        if len(shown) == MAX_TEXT_SECTIONS or used + size > MAX_TEXT_CHARS:
            return shown, True
        shown.append(chunk)
        used += size
    return shown, False


def prompt_overflow(approval: Approval) -> list[str]:
    """The agent's full text as thread messages, already escaped (post each as ``text`` as is); [] if it all fits.

    Each chunk is at most ``THREAD_CHUNK_LIMIT`` UTF-16 units, code blocks closed and reopened across chunks;
    whitespace-only chunks are dropped.
    """
    if not _shown_chunks(approval.prompt)[1]:
        return []
    return [escape_mrkdwn(chunk) for chunk in split_text(approval.prompt, THREAD_CHUNK_LIMIT) if chunk.strip()]


# --- blocks ----------------------------------------------------------------------------------------------------


def _block_id(name: str, version: str) -> str:
    # Slack asks for new block_ids when a message is updated: each later version of the card gets its own.
    return f"{name}.{version}" if version else name


def meta(approval: Approval, version: str, approvers_text: str | None, *, policy_line: bool = True) -> str:
    """Who asked, for what, when, until when, and who may decide; ``policy_line``: say when no policy rule
    matched a tool call or code block (a card of several calls says it per call instead)."""
    part = "from outside the bot" if approval.workflow == EXTERNAL else f"for *{title(approval)}*, step {approval.step}"
    lines = [f"*Requested by* {person(approval.requester)} {part} (`{excerpt(approval.id, 80)}`)"]
    if approval.created_ms:
        lines.append(f"*Asked:* {slack_date(approval.created_ms)}")
    if policy_line and no_rule_matched(approval):
        # A rule that matched is named in the request's text (``bot.rulings.shown_text``); say none did.
        lines.append(f"*Policy:* no rule matched (`{DEFAULT_RULE}`), so one approver decides")
    if not version:  # the card still asking for a decision
        lines.append(f"*Expires:* {slack_relative_date(approval.deadline_ms)}")
        if approvers_text is not None:
            lines.append(approvers_text)
    return "\n".join(lines)


def no_rule_matched(approval: Approval) -> bool:
    return approval.terms.rule == DEFAULT_RULE and approval.terms.kind in ("tool", "code")


def progress_line(approval: Approval) -> str | None:
    """How many of the approvals a quorum needs are in, and whose ("1 of 2 approvals: <@U1>"); None for a
    request one approver decides."""
    needed = approval.terms.quorum
    if needed <= 1:
        return None
    got = approval.approved_by
    if not got:
        return f"0 of {needed} approvals yet: it needs {needed} different approvers"
    return f"{len(got)} of {needed} approvals: {', '.join(person(user) for user in got)}"


def _progress(approval: Approval) -> list[Block]:
    """The quorum's progress on a pending card (its block id changes with each approval, as Slack asks)."""
    line = progress_line(approval)
    if line is None or not approval.pending:
        return []
    return [context(f"approval_progress.{len(approval.approved_by)}", "👥 " + line)]


def _card(
    approval: Approval, revision: Revision | None, workspace_url: str, version: str, approvers_text: str | None = None
) -> list[Block]:
    header = PlainTextObject(text=_HEADERS.get(version, _HEADERS[approval.state])[:HEADER_LIMIT], emoji=True)
    blocks: list[Block] = [
        HeaderBlock(block_id=_block_id("approval_header", version), text=header),
        SectionBlock(
            block_id=_block_id("approval_meta", version),
            text=MarkdownTextObject(text=meta(approval, version, approvers_text)),
        ),
    ]
    if revision is not None:
        line = revision_line(revision, workspace_url, pending=approval.pending)
        blocks.append(context(_block_id("approval_revision", version), line))
        diff = diff_text(revision.previous.prompt, approval.prompt)
        blocks.append(SectionBlock(block_id=_block_id("approval_diff", version), text=MarkdownTextObject(text=diff)))
    blocks += _progress(approval)
    chunks, truncated = _shown_chunks(approval.prompt)
    texts = [escape_mrkdwn(chunk) for chunk in chunks if chunk.strip()] or [NO_TEXT]
    blocks += [
        SectionBlock(block_id=_block_id(f"approval_text_{index}", version), text=MarkdownTextObject(text=text))
        for index, text in enumerate(texts)
    ]
    if truncated:
        blocks.append(context(_block_id("approval_truncated", version), TRUNCATED_NOTE))
    return blocks


def context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=text)])


def button_value(approval: Approval) -> str:
    """What a button carries: the approval's id and the start of the digest of what the card shows, so a click
    decides only the version the person saw (``ApprovalStore.decide(digest=...)``)."""
    return f"{approval.id}|{approval.digest[:DIGEST_CHARS]}" if approval.digest else approval.id


def editable(approval: Approval) -> bool:
    """Whether the card offers Edit: a draft, plan, code block or tool call one approver decides (an approval
    with edits is the editor's own, so a request needing two approvers is not edited here). A request from
    outside the bot is not: its asker reads a decision, not an edited version."""
    return approval.terms.kind in EDITABLE_KINDS and approval.terms.quorum == 1 and approval.workflow != EXTERNAL


def actions(approval: Approval, block_id: str = ACTIONS_BLOCK_ID) -> ActionsBlock:
    """Approve / Revise / Cancel for ``approval`` (each button's ``value``: ``button_value``)."""
    consequence = (
        "This call does not run; the agent is told it was refused."
        if approval.terms.kind == "tool"
        else "The workflow stops and nothing more is done for this task."
    )
    confirm = ConfirmObject(
        title=PlainTextObject(text="Cancel this request?"),
        text=PlainTextObject(text=consequence),
        confirm=PlainTextObject(text="Cancel request"),
        deny=PlainTextObject(text="Keep waiting"),
        style="danger",
    )
    value = button_value(approval)
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Approve", emoji=True),
                action_id=ACTION_APPROVE,
                value=button_value(approval),
                style="primary",
            ),
            *(
                [ButtonElement(text=PlainTextObject(text="Edit", emoji=True), action_id=ACTION_EDIT, value=value)]
                if editable(approval)
                else []
            ),
            ButtonElement(
                text=PlainTextObject(text="Revise", emoji=True), action_id=ACTION_REVISE, value=button_value(approval)
            ),
            ButtonElement(
                text=PlainTextObject(text="Cancel", emoji=True),
                action_id=ACTION_CANCEL,
                value=button_value(approval),
                style="danger",
                confirm=confirm,
            ),
        ],
    )


def dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    if len(blocks) > MAX_BLOCKS:  # cannot happen with the caps above; guards future edits
        raise ValueError(f"{len(blocks)} blocks exceed Slack's {MAX_BLOCKS} per message")
    return [block.to_dict() for block in blocks]


def prompt_blocks(
    approval: Approval,
    *,
    previous: Approval | None = None,
    workspace_url: str = "",
    approvers: Sequence[str] = (),
    mention: bool = True,
    revision: int = 1,
    max_revisions: int | None = None,
    extra: Sequence[Block] = (),
) -> list[dict[str, Any]]:
    """The card asking for a decision, with Approve / Revise / Cancel buttons whose ``value`` is the approval id.

    ``previous`` is the approval this one revises (its feedback is quoted, what changed is shown, and with
    ``workspace_url`` its card is linked); ``revision`` is this card's revision number, ``max_revisions`` the
    run's limit (``MAX_REVISIONS``). ``approvers`` (user IDs ``U…``/``W…``, user group IDs ``S…``) are mentioned
    when ``mention`` is true and counted otherwise (see ``approvers_line``); with none, the card says anyone in
    the channel may decide.
    The expiry is a Slack date with ``{ago}``, so it reads "in 59 minutes", later "in 3 minutes", to everyone.
    """
    who = approvers_line(approvers, mention=mention)
    revised = Revision(previous, revision, max_revisions) if previous is not None else None
    return dicts([*_card(approval, revised, workspace_url, "", who), actions(approval), *extra])


def outcome_line(approval: Approval) -> str:
    """One mrkdwn line saying what was decided, by whom and when; revision feedback is quoted escaped."""
    who, at = person(approval.decider), at_date(approval.decided_ms)
    match approval.state:
        case State.APPROVED:
            if len(approval.approved_by) > 1:
                who = " and ".join(person(user) for user in approval.approved_by)
            how = "Approved with edits" if edits.decode(approval.feedback) is not None else "Approved"
            return f"✅ {how} by {who}{at}"
        case State.REVISED:
            line = f"✏️ Revision requested by {who}{at}"
            feedback = approval.feedback.strip()
            return line + (f" — feedback: {excerpt(feedback, 500)}" if feedback else "")
        case State.CANCELLED:  # a cancel by the bot itself says why (superseded, could not be posted, ...)
            why = approval.feedback.strip()
            return f"🛑 Cancelled by {who}{at}" + (f" — {excerpt(why, 500)}" if why else "")
        case State.EXPIRED:
            when = at_date(approval.decided_ms or approval.deadline_ms)
            return f"⌛ Expired{when}: nobody decided, so nothing was done (an expiry is not a refusal)"
    raise ValueError(f"approval {approval.id} is still pending")


def decided_blocks(
    approval: Approval,
    *,
    previous: Approval | None = None,
    workspace_url: str = "",
    revision: int = 1,
    max_revisions: int | None = None,
    ask_again_s: float = 0,
    extra: Sequence[Block] = (),
) -> list[dict[str, Any]]:
    """The same card with the buttons and the expiry removed and the outcome added. ``approval`` is decided.
    A Revise past ``max_revisions`` says the run stopped there; an expired draft, plan or code block offers
    "Ask again" when ``ask_again_s`` (``ASK_AGAIN_WINDOW``) allows it."""
    line = outcome_line(approval)  # raises for a pending approval
    number = revision if previous is not None else 0
    if approval.state is State.REVISED and max_revisions is not None and number >= max_revisions:
        line += f". No more revisions: MAX_REVISIONS is {max_revisions}, so the run stopped here"
    outcome = context(_block_id("approval_outcome", approval.state), line)
    revised = Revision(previous, revision, max_revisions) if previous is not None else None
    changed: list[Block] = []
    if (edit := edits.decode(approval.feedback)) is not None and approval.state is State.APPROVED:
        diff = diff_text(edit.original, edit.edited, title="What the editor changed")
        changed.append(SectionBlock(block_id="approval_edit_diff", text=MarkdownTextObject(text=diff)))
    again = _ask_again(approval, ask_again_s)
    return dicts([*_card(approval, revised, workspace_url, approval.state), *changed, outcome, *extra, *again])


def _ask_again(approval: Approval, window_s: float) -> list[Block]:
    if approval.state is not State.EXPIRED or window_s <= 0 or approval.terms.kind not in ASK_AGAIN_KINDS:
        return []
    hours = window_s / 3600
    until = f"{hours:g} hours" if hours >= 1 else f"{window_s / 60:g} minutes"
    button = ButtonElement(
        text=PlainTextObject(text="Ask again", emoji=True), action_id=ACTION_ASK_AGAIN, value=button_value(approval)
    )
    note = context(
        "approval_ask_again_note",
        f"An approver may ask again within {until} of the expiry: the run"
        " picks this step up again, with a new deadline, on this card.",
    )
    return [note, ActionsBlock(block_id="approval_ask_again", elements=[button])]


def withdrawn_blocks(approval: Approval, note_text: str = WITHDRAWN_NOTE) -> list[dict[str, Any]]:
    """The card with its buttons removed when the bot could not record where it is, or lost its record: clicks
    there would decide nothing anyone reads, so it says so (``note_text``) instead of staying clickable."""
    note = context(_block_id("approval_outcome", _WITHDRAWN), note_text)
    return dicts([*_card(approval, None, "", _WITHDRAWN), note])


def withdrawn_text(approval: Approval, note_text: str = WITHDRAWN_NOTE) -> str:
    """The notification fallback ``text`` for ``withdrawn_blocks``."""
    return f"⚠️ Withdrawn: {subject(approval)}. {note_text}"


def prompt_text(approval: Approval, *, approvers: Sequence[str] = (), mention: bool = True) -> str:
    """The notification fallback ``text`` for ``prompt_blocks``; it mentions the approvers too when asked to,
    so they are notified whether Slack notifies from the blocks or from this text."""
    to = f" (approvers: {mentions(approvers, limit=300)})" if approvers and mention else ""
    return f"Approval needed for {subject(approval)}{to}: {excerpt(approval.prompt, 150)}"


def decision_text(approval: Approval) -> str:
    """The notification fallback ``text`` for ``decided_blocks``."""
    return f"{outcome_line(approval)} ({subject(approval)})"
