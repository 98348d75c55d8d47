"""The texts of a card's reminder (in its thread) and of its escalation (elsewhere, with a link to it). No I/O.

Everything taken from a request (the workflow's name, the approval id) is escaped; people and groups are
mentions (``<@U…>``, ``<!subteam^S…>``), so the reminder notifies exactly the approvers and the escalation the
group it names. The time left is a Slack date token (``slack_relative_date``): "in 12 minutes" stays true as the
message is read later.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.approvals import Approval
from bot.slack.blocks.approval import title
from bot.slack.blocks.text import excerpt, link, mention, mentions, person, slack_relative_date


def _what(approvals: Sequence[Approval]) -> str:
    first = approvals[0]
    if len(approvals) == 1:
        return f"this request (*{title(first)}*, step {first.step}, `{excerpt(first.id, 80)}`)"
    return f"{len(approvals)} requests on this card (*{title(first)}*, `{excerpt(first.workflow_id, 80)}`)"


def _expires(approvals: Sequence[Approval]) -> str:
    return slack_relative_date(min(a.deadline_ms for a in approvals))


def still_to_decide(approvers: Sequence[str], approvals: Sequence[Approval]) -> list[str]:
    """The approvers to remind: those who have not approved already (a quorum counts approvals one by one);
    every approver if that leaves nobody."""
    approved = {user for approval in approvals for user in approval.approved_by}
    return [who for who in approvers if who not in approved] or list(approvers)


def reminder_text(approvals: Sequence[Approval], approvers: Sequence[str]) -> str:
    """The one reminder posted in a card's thread: who should decide, what waits, and when it expires."""
    who = f"{mentions(approvers)}: " if approvers else ""
    anyone = "" if approvers else " Anyone in this channel may decide."
    what = _what(approvals)
    verb = "is" if len(approvals) == 1 else "are"
    return f"⏰ Reminder: {who}{what} {verb} still waiting for a decision. It expires {_expires(approvals)}.{anyone}"


def escalation_text(approvals: Sequence[Approval], permalink: str, *, waited_s: float, group: str | None = None) -> str:
    """The one escalation of a card: to a channel or a person as it is, or mentioning ``group`` (``S…``) in the
    approvals channel."""
    first = approvals[0]
    to = f"{mention(group)}: " if group else ""
    what = _what(approvals).replace("this request", "a request", 1).replace("on this card", "on a card", 1)
    where = f" in <#{first.channel}>" if first.channel else ""
    asked = f"asked by {person(first.requester)}{where}"
    card = link(permalink, "Open the card") if permalink else "See the approvals channel."
    return (
        f"🚨 Escalation: {to}{what}, {asked}, has waited {_duration(waited_s)} for a decision."
        f" It expires {_expires(approvals)}. {card}"
    )


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours {seconds % 3600 // 60} minutes"
