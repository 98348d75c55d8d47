"""Private answers: the plain words for an engine refusal, and an ephemeral message that never raises."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import AlreadyCounted, AlreadyDecided, SelfApprovalRefused, StaleVersion, UnknownApproval
from bot.approvals.errors import ApprovalError
from bot.slack import blocks

log = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "I could not record your click: the approval store is not answering. If the card has not changed within a "
    "minute, click again."
)
UNKNOWN_BUTTON_TEXT = "That button is not one this bot knows; nothing was recorded."


def refusal(refused: ApprovalError) -> str:
    """The plain words for an engine refusal."""
    if isinstance(refused, AlreadyDecided):
        return blocks.already_decided_text(refused.approval)
    if isinstance(refused, AlreadyCounted):
        return blocks.already_counted_text(refused.approval)
    if isinstance(refused, SelfApprovalRefused):
        return blocks.self_approval_refused_text()
    if isinstance(refused, StaleVersion):
        return blocks.stale_version_text()
    if isinstance(refused, UnknownApproval):
        return blocks.unknown_approval_text()
    return "That did not work; nothing was recorded."


async def ephemeral(client: AsyncWebClient, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
    """Answer ``user`` privately in ``channel``; a failure is logged, never raised."""
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
    except SlackApiError as exc:
        log.warning("could not answer %s privately: %s", user, exc.response.get("error"))
