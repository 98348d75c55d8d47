"""The MCP tools: ``request_approval`` and ``get_approval``, over the Python client (``bot.client``).

Approvals take minutes and MCP has one long-running mechanism the installed SDK serves: progress notifications
(modelcontextprotocol.io/specification/2025-11-25/basic/utilities/progress). A ``request_approval`` call whose
request carries ``_meta.progressToken`` stays open until the approval is decided or expires, with a notification
every ``progress_every`` seconds (at most 60: the SDK's HTTP client gives up on a stream silent for 300 s,
``MCP_DEFAULT_SSE_READ_TIMEOUT`` in mcp/shared/_httpx_utils.py, and clients with a 60 s request timeout that
resets on progress, the TypeScript SDK's ``resetTimeoutOnProgress``, need one sooner). A call without one gets a
pending result at once, and ``get_approval`` waits a bounded time for that id. MCP tasks (2025-11-25, experimental)
are types only in mcp 2.x ("their methods are ... never dispatched", mcp_types/_types.py), so no client can
negotiate them with this server.

Hostile input is answered with a tool error (``isError``): the SDK validates the arguments against these
signatures, and ``ToolError`` carries the plain words. The server keeps running whatever a call sends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field
from redis.exceptions import RedisError

from bot.client import ApprovalClient, Decision
from bot.mcp.results import ApprovalResult, decided, pending, tool_result

log = logging.getLogger(__name__)

TITLE_MAX = 150  # the card's header (a Block Kit header's text: docs.slack.dev/reference/block-kit/blocks/header-block)
DETAILS_MAX = 40_000  # a message's text (docs.slack.dev/reference/methods/chat.postMessage); longer goes to a thread
ARGUMENTS_MAX = 40_000  # the arguments as JSON, shown in full on the card
KEY_MAX = 200
TIMEOUT_MAX = 7 * 86_400.0
WAIT_MAX = 55.0
"""``get_approval`` waits at most this long: under the 60 s request timeout many clients apply."""
PROGRESS_MAX = 60.0

ApprovalId = Annotated[
    str, Field(pattern=r"^[!-~]{1,200}$", description="the approval_id a request_approval call returned")
]


class Gate:
    """The tools of one MCP server process, over one open ``ApprovalClient``."""

    def __init__(
        self,
        client: ApprovalClient,
        *,
        default_timeout: float,
        progress_every: float = 30.0,
        requester: str | None = None,
    ) -> None:
        if not 0 < progress_every <= PROGRESS_MAX:
            raise ValueError(f"progress_every must be in (0, {PROGRESS_MAX:.0f}] seconds, not {progress_every}")
        self._client = client
        self._default_timeout = min(default_timeout, TIMEOUT_MAX)
        self._every = progress_every
        self._requester = requester

    async def request_approval(
        self,
        title: Annotated[str, Field(min_length=1, max_length=TITLE_MAX, description="what needs a yes, in a line")],
        details: Annotated[
            str, Field(max_length=DETAILS_MAX, description="what exactly will happen, shown in full to the approver")
        ],
        ctx: Context[Any, Any],
        tool: Annotated[
            str | None,
            Field(min_length=1, max_length=200, description="the tool about to be called, if this gates a tool call"),
        ] = None,
        arguments: Annotated[
            dict[str, Any] | None, Field(description="that tool call's arguments (a JSON object), shown on the card")
        ] = None,
        timeout: Annotated[
            float | None,
            Field(gt=0, le=TIMEOUT_MAX, description="seconds until the request expires undecided (default: the bot's)"),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=KEY_MAX,
                description="asking again with the same key returns the same approval (one card), decided or not",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, ApprovalResult]:
        """Ask a person in Slack to approve something before you do it, and get their decision: approved (go
        ahead), revised (with feedback: change it and ask again), cancelled, expired or denied (by policy). When
        your client asks for progress, the call stays open until someone decides; otherwise it returns status
        pending at once, and get_approval waits for the decision."""
        if arguments is not None and tool is None:
            raise ToolError("arguments describe a tool call: name the tool too")
        if arguments is not None and len(_json(arguments)) > ARGUMENTS_MAX:
            raise ToolError(f"arguments are too long to show on a card (at most {ARGUMENTS_MAX} characters as JSON)")
        expires_in = timeout if timeout is not None else self._default_timeout
        try:
            request = await self._client.request(
                title,
                details,
                requester=self._requester,
                timeout=expires_in,
                key=idempotency_key,
                tool=tool,
                arguments=arguments,
            )
        except (ValueError, TypeError) as exc:
            raise ToolError(f"the request was refused: {exc}") from exc
        except RedisError as exc:
            raise _unreachable(exc) from exc
        log.info("approval %s requested over MCP", request.approval_id)
        if request.decision is not None:
            return tool_result(decided(request.decision))
        if _progress_token(ctx) is None:
            return tool_result(pending(request.approval_id))
        decision = await self._wait(request.approval_id, ctx, limit=None, total=expires_in)
        assert decision is not None  # without a limit the wait ends with the decision (expired at the latest)
        return tool_result(decided(decision))

    async def get_approval(
        self,
        approval_id: ApprovalId,
        ctx: Context[Any, Any],
        wait_seconds: Annotated[
            float, Field(ge=0, le=WAIT_MAX, description=f"how long to wait for a decision (at most {WAIT_MAX:.0f} s)")
        ] = 25,
    ) -> Annotated[CallToolResult, ApprovalResult]:
        """Wait up to wait_seconds for the decision on an approval that request_approval left pending, and return
        it: approved (go ahead), revised (with feedback), cancelled, expired, denied, or still pending (call again)."""
        decision = await self._wait(approval_id, ctx, limit=wait_seconds, total=None)
        return tool_result(decided(decision) if decision is not None else pending(approval_id))

    async def _wait(
        self, approval_id: str, ctx: Context[Any, Any], *, limit: float | None, total: float | None
    ) -> Decision | None:
        """The decision, or None when ``limit`` seconds passed first; progress before each step when asked for."""
        reporting = _progress_token(ctx) is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            elapsed = loop.time() - started
            left = None if limit is None else limit - elapsed
            if reporting:
                said = f"waiting for a person to decide in Slack on approval {approval_id} ({elapsed:.0f} s so far)"
                await ctx.report_progress(elapsed, total, said)
            step = self._every if left is None else min(self._every, max(left, 0.0))
            try:
                decision = await self._client.wait(approval_id, timeout=step)
            except KeyError as exc:
                raise ToolError(f"unknown approval id {approval_id!r} (never created, or too old)") from exc
            except RedisError as exc:
                raise _unreachable(exc) from exc
            if decision is not None:
                return decision
            if left is not None and left <= step:
                return None


def _progress_token(ctx: Context[Any, Any]) -> str | int | None:
    meta = ctx.request_context.meta
    return meta.get("progress_token") if meta else None


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _unreachable(exc: RedisError) -> ToolError:
    log.warning("the approval store is unreachable: %s", type(exc).__name__)
    return ToolError("the approval store (Redis) did not answer; try again in a moment")
