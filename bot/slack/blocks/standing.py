"""Standing approvals on a tool-call card: "Approve, and allow this..." for the run or a time box, for the tool or
these exact arguments; once granted, what it allows and a Revoke button. Pure; no I/O."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ConfirmObject, PlainTextObject

from bot.approvals.models import Approval, State
from bot.approvals.requests import EXTERNAL
from bot.slack.blocks.approval import button_value, context
from bot.slack.blocks.text import escape_mrkdwn, person, slack_date
from bot.standing import Standing

ACTION_REVOKE = "standing_revoke"
ALLOW_ACTIONS = {
    "standing_run_tool": ("run", False),
    "standing_run_exact": ("run", True),
    "standing_timebox_tool": ("timebox", False),
    "standing_timebox_exact": ("timebox", True),
}
"""Action id -> (scope, exactly these arguments)."""


def offers_standing(approval: Approval) -> bool:
    """A pending tool call of a run one approver decides (a standing approval never stands in for two, and an
    asker outside the bot never consults one)."""
    return (
        approval.pending
        and approval.terms.kind == "tool"
        and approval.terms.quorum == 1
        and approval.workflow != EXTERNAL
    )


def allow_actions(approval: Approval, block_id: str, timebox_s: float) -> list[Block]:
    """The "Approve, and allow..." buttons for ``approval`` (none where ``offers_standing`` says no)."""
    if not offers_standing(approval) or timebox_s <= 0:
        return []
    minutes = f"{timebox_s / 60:g} min"
    tool = approval.terms.tool or "this tool"
    labels = {
        "standing_run_tool": f"Approve + allow {tool} for this run",
        "standing_run_exact": "Approve + allow this exact call for this run",
        "standing_timebox_tool": f"Approve + allow {tool} for {minutes}",
        "standing_timebox_exact": f"Approve + allow this exact call for {minutes}",
    }
    buttons = [
        ButtonElement(
            text=PlainTextObject(text=label[:75], emoji=True),
            action_id=action_id,
            value=button_value(approval),
            confirm=ConfirmObject(
                title=PlainTextObject(text="Stop asking about this?"),
                text=PlainTextObject(
                    text="This call runs now, and matching calls run without asking until the scope ends, the"
                    " policy changes, or someone revokes it from this card."
                ),
                confirm=PlainTextObject(text="Approve and allow"),
                deny=PlainTextObject(text="Back"),
            ),
        )
        for action_id, label in labels.items()
    ]
    return [ActionsBlock(block_id=block_id, elements=buttons)]


def standing_blocks(approval: Approval, standing: Standing | None, block_id: str) -> list[Block]:
    """On a decided card: what the approval also allowed, and Revoke while it stands."""
    if standing is None or approval.state is not State.APPROVED:
        return []
    if standing.revoked_by:
        return [context(block_id, f"🔒 It allowed {_allows(standing)}; revoked by {person(standing.revoked_by)}.")]
    line = context(block_id, f"🔓 Also allowed: {_allows(standing)} (`{standing.id}`).")
    revoke = ButtonElement(
        text=PlainTextObject(text="Revoke", emoji=True), action_id=ACTION_REVOKE, value=standing.id, style="danger"
    )
    return [line, ActionsBlock(block_id=f"{block_id}_revoke", elements=[revoke])]


def _allows(standing: Standing) -> str:
    what = "exactly these arguments" if standing.args else "any arguments"
    when = "for the rest of this run" if standing.scope == "run" else f"until {slack_date(standing.expires_ms)}"
    return f"`{escape_mrkdwn(standing.tool)}` with {what}, {when}"
