"""What the bot connects to at start, each checked now with one clear line when it fails: the models
(``MODEL_CONFIG``, OpenAI, or the demo's scripted ones) and Redis (a server, a Sentinel service or a Cluster)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.approvals.topology import Topology, open_client
from bot.config import Settings
from bot.slack.startup import StartupError
from workflows.model import ModelConfigError, RoleModels, component_config, load_models, openai_config


async def load_model(settings: Settings, *, fallback: dict[str, object] | None = None) -> RoleModels:
    """MODEL_CONFIG if set (one model, or one per role), else OpenAI with OPENAI_API_KEY, else ``fallback`` (the
    demo's scripted model). The caller closes it (``aclose``) when the process is done with it."""
    if settings.model_config is not None:
        return await load_models(component_config(settings.model_config))
    if settings.openai_api_key is not None:
        return await load_models(openai_config(settings.openai_api_key.get()))
    if fallback is not None:
        return await load_models(dict(fallback))
    raise ModelConfigError("no model configured: set OPENAI_API_KEY, or MODEL_CONFIG to an AutoGen component config")


REDIS_PING_S = 5.0
_REDIS_ADVICE = {
    "server": "check REDIS_URL",
    "sentinel": "check REDIS_SENTINELS and REDIS_SENTINEL_SERVICE",
    "cluster": "check REDIS_CLUSTER_NODES",
}


async def open_redis(settings: Settings, *, advice: str | None = None) -> aioredis.Redis:
    """A client for the configured Redis (``REDIS_URL``, or the master of a Sentinel service, or a Redis
    Cluster), checked now: an unreachable Redis is one clear ``StartupError``."""
    redis = open_client(
        Topology(
            url=settings.redis_url,
            sentinels=settings.redis_sentinels,
            sentinel_service=settings.redis_sentinel_service,
            cluster_nodes=settings.redis_cluster_nodes,
        )
    )
    advice = advice or _REDIS_ADVICE[settings.redis_topology]
    try:
        async with asyncio.timeout(REDIS_PING_S):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        await redis.aclose()
        why = str(exc) or f"no answer within {REDIS_PING_S:.0f} s"
        raise StartupError(f"cannot reach Redis at {settings.redis_where} ({why}); {advice}") from exc
    return redis
