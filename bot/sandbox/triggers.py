"""Trigger ids: issued with every interaction Slack sends (slash commands, clicks, view submissions), exchanged
once, within 3 seconds, for a modal.

Sources: "Triggers expire in three seconds ... Triggers may only be used once" (api.slack.com/docs/triggers);
the error names are those of views.open / views.push (docs.slack.dev/reference/methods/views.push, Errors:
``invalid_trigger_id`` "The trigger_id is invalid", ``exchanged_trigger_id`` "The trigger_id was already
exchanged in a previous call", ``expired_trigger_id`` "The trigger_id is expired").
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.clock import Clock
from bot.sandbox.methods_base import ApiError

LIFETIME_S = 3.0


@dataclass(slots=True)
class Trigger:
    """One issued trigger: to whom, when, by which payload type, and (from a modal) in which view."""

    trigger_id: str
    user: str
    source: str  # the payload's type: slash_commands, block_actions, view_submission
    issued_at: float
    view_id: str | None = None
    exchanged_at: float | None = None
    exchanged_by: str | None = None  # the method that used it


class Triggers:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.issued: dict[str, Trigger] = {}

    def record(self, trigger_id: str, user: str, source: str, view_id: str | None = None) -> Trigger:
        """Remember a trigger id a payload carries, issued now."""
        trigger = Trigger(trigger_id, user, source, self.clock.now(), view_id)
        self.issued[trigger_id] = trigger
        return trigger

    def exchange(self, trigger_id: str, method: str) -> Trigger:
        """Use a trigger once. Unknown (never issued here, or forged): ``invalid_trigger_id``; used before:
        ``exchanged_trigger_id``; 3 s or more after it was issued: ``expired_trigger_id``."""
        trigger = self.issued.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.exchanged_at is not None:
            raise ApiError("exchanged_trigger_id")
        now = self.clock.now()
        if now - trigger.issued_at >= LIFETIME_S:
            raise ApiError("expired_trigger_id")
        trigger.exchanged_at, trigger.exchanged_by = now, method
        return trigger
