"""Checks before connecting, so bad configuration fails at start with one clear line instead of hanging.

slack-sdk retries ``apps.connections.open`` forever on a bad app token, so both tokens are checked here first;
the approvals channel is resolved to its ID once, and the bot joins it (thread replies reach only members).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Why the bot cannot start, in one line that names what to fix."""


@dataclass(frozen=True, slots=True)
class Workspace:
    team: str
    url: str
    """The workspace's address, e.g. ``https://acme.slack.com/``."""
    bot_user_id: str
    approvals_channel_id: str


async def preflight(client: AsyncWebClient, app_token: str | None, channel: str, channel_name: str | None) -> Workspace:
    """Check both tokens (HTTP mode has no app token: None), find the approvals ``channel`` (``channel_name`` is
    its name to look up, or None when ``channel`` is already an ID) and make sure the bot is in it."""
    try:
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            raise _rejected("SLACK_BOT_TOKEN", exc) from exc
        if app_token is not None:
            try:
                await client.apps_connections_open(app_token=app_token)
            except SlackApiError as exc:
                raise _rejected("SLACK_APP_TOKEN", exc) from exc
        channel_id = channel if channel_name is None else await resolve_channel(client, channel_name)
        await _join(client, channel_id, channel)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        problem = type(exc).__name__
        raise StartupError(f"cannot reach Slack at {client.base_url} ({problem}); check SLACK_API_URL") from exc
    return Workspace(str(auth.get("team") or ""), str(auth.get("url") or ""), str(auth["user_id"]), channel_id)


def _rejected(variable: str, exc: SlackApiError) -> StartupError:
    error = exc.response.get("error")
    return StartupError(f"{variable} was rejected by Slack ({error}); copy it again from your Slack app's settings")


async def resolve_channel(client: AsyncWebClient, name: str) -> str:
    """The ID of the channel called ``name`` (without ``#``)."""
    channel = f"#{name}"
    cursor = ""
    while True:
        try:
            page = await client.conversations_list(
                types="public_channel,private_channel", exclude_archived=False, limit=200, cursor=cursor or None
            )
        except SlackApiError as exc:
            raise StartupError(
                f"APPROVALS_CHANNEL {channel} could not be looked up ({exc.response.get('error')}); "
                "the bot needs the channels:read and groups:read scopes"
            ) from exc
        for found in page.get("channels") or []:
            if found.get("name") == name:
                if found.get("is_archived"):
                    raise StartupError(_archived(channel))
                return str(found["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            raise StartupError(
                f"APPROVALS_CHANNEL #{name} was not found: create it, or invite the bot if it is private"
            )


async def _join(client: AsyncWebClient, channel_id: str, channel: str) -> None:
    try:
        info = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "channel_not_found":  # what Slack answers for a private channel the bot is not in
            raise StartupError(
                f"APPROVALS_CHANNEL {channel} was not found: if it is a private channel, invite the bot there "
                "with /invite @approval-bot; otherwise check the channel ID"
            ) from exc
        raise StartupError(f"APPROVALS_CHANNEL {channel} is not usable ({error})") from exc
    details = info.get("channel") or {}
    if details.get("is_archived"):
        raise StartupError(_archived(channel))
    if details.get("is_member"):
        return
    if details.get("is_private"):
        raise StartupError(f"the bot is not in the private channel {channel}: invite it with /invite @approval-bot")
    try:
        await client.conversations_join(channel=channel_id)
    except SlackApiError as exc:
        raise StartupError(f"the bot could not join {channel} ({exc.response.get('error')}); invite it") from exc
    log.info("joined %s (%s)", channel, channel_id)


def _archived(channel: str) -> str:
    return f"APPROVALS_CHANNEL {channel} is archived: unarchive it, or set APPROVALS_CHANNEL to another channel"
