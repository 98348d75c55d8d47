"""The approval gate over MCP (``approval-bot mcp``): tools any MCP client can call, over the Python client.

It knows nothing of Slack or AutoGen: it creates approvals through ``bot.client`` and waits for their decisions;
whichever ``approval-bot run`` replica is running posts the cards.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from redis.exceptions import RedisError

from bot.client import ApprovalClient, RedisUnavailable
from bot.config import Settings
from bot.mcp.server import build_server, parse_address, serve_http, serve_stdio
from bot.mcp.tools import Gate

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    *,
    http: tuple[str, int] | None,
    progress_every: float,
    block_for: float | None = None,
    requester: str | None = None,
) -> int:
    """Serve until the client closes stdin (stdio) or a signal arrives (HTTP): 0. 1 when Redis does not answer
    at the start (one line on stderr, no traceback)."""
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(ApprovalClient(settings.redis_url))
        except (RedisUnavailable, RedisError, OSError) as exc:
            log.error(
                "Redis at %s did not answer (%s): check REDIS_URL; not serving MCP",
                settings.redis_url_redacted,
                type(exc).__name__,
            )
            return 1
        gate = Gate(
            client,
            default_timeout=settings.approval_timeout,
            progress_every=progress_every,
            block_for=block_for,
            requester=requester,
        )
        server = build_server(gate)
        if http is None:
            await serve_stdio(server)
        else:
            await serve_http(server, *http)
    return 0


__all__ = ["Gate", "build_server", "parse_address", "serve"]
