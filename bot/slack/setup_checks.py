"""The doctor's Slack checks: the two tokens (kind, ``auth.test`` scopes, ``apps.connections.open``) and the
approvals channel. Each returns a ``Check`` and changes nothing (the bot is not joined to a channel)."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.checks import Check
from bot.config import ConfigError, Secret, Settings, load_settings
from bot.slack.app import web_client
from bot.slack.scopes import REQUIRED_SCOPES
from bot.slack.startup import StartupError, resolve_channel

REINSTALL = "add them under oauth_config.scopes.bot in your app's manifest (see manifest.yml), then reinstall the app"


async def slack_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """The bot token, the approvals channel and the app token. ``settings`` were loaded without the two tokens,
    which are read from ``environ`` here so that a token of the wrong kind is a failed check, not a stop."""
    bot_token, bot_check = token(environ, "SLACK_BOT_TOKEN")
    app_token, app_check = token(environ, "SLACK_APP_TOKEN")
    checks: list[Check] = []
    if bot_token is None:
        checks += [bot_check, Check("approvals channel", False, "not checked without a bot token", bot_check.fix)]
    else:
        client = web_client(bot_token.get(), settings.slack_api_url)
        checks.append(await bot_token_check(client))
        checks.append(await channel_check(client, settings))
    if settings.http_port is not None:  # HTTP mode: no app token; requests are checked with the signing secret
        checks.append(signing_secret_check(settings))
    else:
        checks.append(app_check if app_token is None else await app_token_check(settings, app_token))
    return checks


def token(environ: Mapping[str, str], name: str) -> tuple[Secret | None, Check]:
    """The token ``name`` if it is set and of the right kind (``bot.config`` says which), else a failed check."""
    what = "bot token" if name == "SLACK_BOT_TOKEN" else "app token"
    try:
        settings = load_settings({name: environ.get(name, "")}, require_slack=False)
    except ConfigError as exc:
        return None, Check(what, False, str(exc).split(": set it to")[0], _token_fix(str(exc)))
    secret = settings.slack_bot_token if name == "SLACK_BOT_TOKEN" else settings.slack_app_token
    if secret is None:
        return None, Check(what, False, f"{name} is not set", f"set {name} in the environment or in .env")
    return secret, Check(what, True, f"{name} is set")


def _token_fix(message: str) -> str:
    _, _, wanted = message.partition(": set it to ")
    return f"set it to {wanted}" if wanted else "copy the token again from your Slack app's settings"


async def bot_token_check(client: AsyncWebClient) -> Check:
    """``auth.test`` accepts SLACK_BOT_TOKEN, and its ``x-oauth-scopes`` hold every scope the manifest asks for."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        return Check("bot token", False, f"SLACK_BOT_TOKEN was rejected by Slack ({error})", _COPY_BOT)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return _unreachable("bot token", client.base_url, exc)
    granted = {s.strip() for s in str(auth.headers.get("x-oauth-scopes") or "").split(",") if s.strip()}
    who = f"{auth.get('user') or auth.get('user_id')} in {auth.get('team')}"
    if missing := sorted(REQUIRED_SCOPES - granted):
        return Check("bot token", False, f"{who} lacks the scopes {', '.join(missing)}", REINSTALL)
    return Check("bot token", True, f"{who}, all {len(REQUIRED_SCOPES)} scopes granted")


_COPY_BOT = "copy the Bot User OAuth Token (xoxb-...) again from your app's Install App page"


def signing_secret_check(settings: Settings) -> Check:
    """HTTP mode: SLACK_SIGNING_SECRET is set (whether it is the app's shows only in Slack's first request)."""
    where = f"HTTP mode on port {settings.http_port}"
    if settings.slack_signing_secret is None:
        fix = "set SLACK_SIGNING_SECRET to your app's Basic Information -> App Credentials -> Signing Secret"
        return Check("signing secret", False, f"SLACK_SIGNING_SECRET is not set ({where})", fix)
    return Check("signing secret", True, f"SLACK_SIGNING_SECRET is set ({where})")


async def app_token_check(settings: Settings, app_token: Secret) -> Check:
    """``apps.connections.open``: SLACK_APP_TOKEN is valid, has connections:write and Socket Mode is on."""
    client = web_client(app_token.get(), settings.slack_api_url)
    try:
        await client.apps_connections_open(app_token=app_token.get())
    except SlackApiError as exc:
        error = exc.response.get("error")
        fix = (
            "copy the app-level token (xapp-...) again from Basic Information -> App-Level Tokens (it needs"
            " connections:write), and turn on Socket Mode in your app's settings"
        )
        return Check("app token", False, f"apps.connections.open refused SLACK_APP_TOKEN ({error})", fix)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return _unreachable("app token", client.base_url, exc)
    return Check("app token", True, "Socket Mode connections open (apps.connections.open)")


async def channel_check(client: AsyncWebClient, settings: Settings) -> Check:
    """APPROVALS_CHANNEL exists and the bot is in it, or can join it itself (public channels, at start)."""
    channel = settings.approvals_channel
    name = "approvals channel"
    try:
        channel_id = channel if settings.approvals_channel_name is None else await resolve_channel(client, channel[1:])
        info = await client.conversations_info(channel=channel_id)
    except StartupError as exc:
        return Check(name, False, str(exc).split(":")[0], _after_colon(str(exc)))
    except SlackApiError as exc:
        error = exc.response.get("error")
        fix = "check the channel ID; if the channel is private, /invite @approval-bot there"
        return Check(name, False, f"APPROVALS_CHANNEL {channel} was not found ({error})", fix)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return _unreachable(name, client.base_url, exc)
    details = info.get("channel") or {}
    if details.get("is_archived"):
        return Check(name, False, f"{channel} is archived", "unarchive it, or set APPROVALS_CHANNEL to another channel")
    if details.get("is_member"):
        return Check(name, True, f"{channel} ({channel_id}), the bot is a member")
    if details.get("is_private"):
        return Check(name, False, f"the bot is not in the private channel {channel}", "/invite @approval-bot there")
    return Check(name, True, f"{channel} ({channel_id}) is public; the bot is not in it yet and joins it at start")


def _after_colon(message: str) -> str:
    _, _, rest = message.partition(": ")
    return rest or "check APPROVALS_CHANNEL"


def _unreachable(name: str, url: str, exc: BaseException) -> Check:
    return Check(name, False, f"cannot reach Slack at {url} ({type(exc).__name__})", "check SLACK_API_URL")
