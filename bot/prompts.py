"""The seam between the input function and whatever shows approvals to people (the Slack surface)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.approvals import Approval


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a prompt was posted: clicks and thread replies find their approval by it."""

    channel: str
    ts: str


class PromptPoster(Protocol):
    """Shows an approval to the people who can decide it; ``previous`` is the approval it revises, if any.

    ``post`` records where the card is (``ApprovalStore.attach_message``) before it posts anything else, and
    raises if the approval could not be shown in full (a card nobody may decide on half-read is no card).
    """

    async def post(
        self,
        approval: Approval,
        previous: Approval | None,
        *,
        look_first: bool = False,
        reuse: MessageRef | None = None,
    ) -> MessageRef:
        """``look_first``: the card may exist already (a resumed run whose last worker died between posting it
        and recording where it is): find it by its metadata before posting. ``reuse``: show it on that card
        instead of a new one (a step asked again after it expired)."""
        ...

    async def post_many(self, approvals: Sequence[Approval], *, look_first: bool = False) -> dict[str, MessageRef]:
        """Show ``approvals`` (the calls of one model turn) together: on one card where they fit, each decided on
        its own; where they do not, on as few cards as hold them. Records each one's card before anything else
        is posted, and says where each is. Raises as ``post`` does."""
        ...

    async def withdraw(self, approval: Approval, ref: MessageRef, *, lost: bool = False) -> None:
        """Take the buttons off a card whose decision nobody will read (``lost``: its record vanished), saying
        why. Best effort: never raises."""
        ...
