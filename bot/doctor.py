"""``approval-bot doctor``: every part of the setup checked once, one pass/fail line each, with the fix.

Each check is a small function returning a ``Check``; none changes anything (the bot is not joined to a channel,
nothing is written to Redis). Tokens are never printed, not even in part: a line names the variable instead.
The exit status is 0 only when every check passes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import redis.asyncio as aioredis
from autogen_core.models import UserMessage
from redis.exceptions import RedisError, ResponseError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.policy import PolicyError, load_policy
from bot.config import ConfigError, Secret, Settings, load_settings
from bot.service import load_model, open_redis
from bot.slack.app import web_client
from bot.slack.scopes import REQUIRED_SCOPES
from bot.slack.startup import StartupError, resolve_channel
from workflows.model import DEFAULT_MODEL, ModelConfigError

TOKENS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
MIN_REDIS = (6, 2)
MODEL_CALL_S = 30.0
ONE_TOKEN = {"max_tokens": 1}
SECRET = re.compile(r"\b(?:sk|xox[a-z]|xapp)-\S*")
"""What looks like a key or a token in a provider's error text (OpenAI quotes part of a rejected key)."""
REINSTALL = "add them under oauth_config.scopes.bot in your app's manifest (see manifest.yml), then reinstall the app"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"PASS {self.name}: {self.detail}"
        return f"FAIL {self.name}: {self.detail} — fix: {self.fix}"


async def diagnose(settings: Settings, environ: Mapping[str, str], *, model_call: bool) -> list[Check]:
    """Every check, in the order a person sets the bot up. ``settings`` were loaded without the two tokens,
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
    checks += await redis_checks(settings)
    checks.append(await model_check(settings, call=model_call))
    checks.append(policy_check(settings))
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


async def redis_checks(settings: Settings) -> list[Check]:
    """Redis is reachable and 6.2 or later, and keeps an append-only file (pending approvals survive a restart)."""
    try:
        redis = await open_redis(settings)
    except StartupError as exc:
        detail, _, fix = str(exc).rpartition("; ")
        unchecked = Check("redis persistence", False, "not checked: Redis is unreachable", "see the redis line")
        return [Check("redis", False, detail or str(exc), fix), unchecked]
    try:
        return [await _version(redis, settings), await _persistence(redis)]
    finally:
        await redis.aclose()


async def _version(redis: aioredis.Redis, settings: Settings) -> Check:
    try:
        info = await redis.info("server")
    except RedisError as exc:
        return Check("redis", False, f"INFO failed at {settings.redis_where} ({exc})", "check the Redis user's ACL")
    version = str(info.get("redis_version") or "")
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if numbers < MIN_REDIS:
        return Check("redis", False, f"Redis {version or 'of unknown version'} at {settings.redis_where}", _UPGRADE)
    return Check("redis", True, f"Redis {version} at {settings.redis_where}")


_UPGRADE = "use Redis 6.2 or later"


async def _persistence(redis: aioredis.Redis) -> Check:
    name = "redis persistence"
    try:
        config = await redis.config_get("appendonly")
    except ResponseError as exc:  # managed Redis often disables or renames CONFIG
        fix = "make sure your provider keeps an append-only file (AOF) for this Redis; CONFIG is not allowed here"
        return Check(name, False, f"could not be checked (CONFIG GET refused: {exc})", fix)
    except RedisError as exc:
        return Check(name, False, f"could not be checked ({exc})", "check that Redis answers CONFIG GET")
    if str(config.get("appendonly")) == "yes":
        return Check(name, True, "appendonly yes")
    fix = "set appendonly yes (and appendfsync everysec) in redis.conf, or CONFIG SET appendonly yes"
    return Check(name, False, f"appendonly is {config.get('appendonly') or 'unset'}: a restart loses approvals", fix)


async def model_check(settings: Settings, *, call: bool) -> Check:
    """The model config loads; with ``call``, the default role's model answers one 1-token completion."""
    if settings.model_config is not None:
        which = f"MODEL_CONFIG {settings.model_config}"
    elif settings.openai_api_key is not None:
        which = f"OpenAI {DEFAULT_MODEL} with OPENAI_API_KEY"
    else:
        fix = "set OPENAI_API_KEY, or MODEL_CONFIG to an AutoGen component config"
        return Check("model", False, "no model configured", fix)
    try:
        models = await load_model(settings)
    except ModelConfigError as exc:
        return Check("model", False, str(exc), "fix MODEL_CONFIG (an AutoGen ChatCompletionClient component config)")
    try:
        if not call:
            return Check("model", True, f"{which} loads (no call made; --model-call makes one)")
        client = models("default")()
        try:
            async with asyncio.timeout(MODEL_CALL_S):
                await client.create(
                    [UserMessage(content="Say OK.", source="doctor")], extra_create_args={"max_tokens": 1}
                )
        except Exception as exc:  # whatever the provider raises, in one line
            first = SECRET.sub("[redacted]", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
            fix = "check the API key, the model name and the endpoint in the model config"
            return Check("model", False, f"{which} loads, but a 1-token call failed: {first[:200]}", fix)
        return Check("model", True, f"{which} loads and answered a 1-token call")
    finally:
        await models.aclose()


def policy_check(settings: Settings) -> Check:
    where = f"POLICY_FILE {settings.policy_file}" if settings.policy_file else "the built-in policy"
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as exc:
        return Check(
            "policy", False, str(exc), "correct POLICY_FILE (README: risk policy), or unset it for the built-in policy"
        )
    return Check("policy", True, f"{where}: {len(policy.rules)} rules")
