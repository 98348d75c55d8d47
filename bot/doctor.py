"""``approval-bot doctor``: every part of the setup checked once, one pass/fail line each, with the fix.

Each check is a small function returning a ``Check``; none changes anything (the bot is not joined to a channel,
nothing is written to Redis). Tokens are never printed, not even in part: a line names the variable instead.
The exit status is 0 only when every check passes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

import redis.asyncio as aioredis
from autogen_core.models import UserMessage
from redis.exceptions import RedisError, ResponseError

from bot.approvals.policy import PolicyError, load_policy
from bot.checks import Check
from bot.config import Settings
from bot.connections import load_model, open_redis
from bot.slack.setup_checks import slack_checks
from bot.slack.startup import StartupError
from workflows.model import DEFAULT_MODEL, ModelConfigError

TOKENS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
MIN_REDIS = (6, 2)
MODEL_CALL_S = 30.0
ONE_TOKEN = {"max_tokens": 1}
SECRET = re.compile(r"\b(?:sk|xox[a-z]|xapp)-\S*")
"""What looks like a key or a token in a provider's error text (OpenAI quotes part of a rejected key)."""


async def diagnose(settings: Settings, environ: Mapping[str, str], *, model_call: bool) -> list[Check]:
    """Every check, in the order a person sets the bot up (``setup_checks.slack_checks`` says how tokens are read)."""
    checks = await slack_checks(settings, environ)
    checks += await redis_checks(settings)
    checks.append(await model_check(settings, call=model_call))
    checks.append(policy_check(settings))
    return checks


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
                await client.create([UserMessage(content="Say OK.", source="doctor")], extra_create_args=ONE_TOKEN)
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
