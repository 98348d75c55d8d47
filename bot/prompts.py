"""The seam between the input function and whatever shows approvals to people (the Slack surface)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.approvals import Approval


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a prompt was posted: clicks and thread replies find their approval by it."""

    channel: str
    ts: str


class PromptPoster(Protocol):
    """Shows an approval to the people who can decide it; ``previous`` is the approval it revises, if any."""

    async def post(self, approval: Approval, previous: Approval | None) -> MessageRef: ...
