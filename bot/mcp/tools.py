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

from bot.approvals.requests import MAX_DETAILS, MAX_KEY, MAX_TIMEOUT_S, MAX_TITLE, MAX_TOOL
from bot.client import (
    ApprovalClient,
    ApprovalError,
    Decision,
    KeyReused,
    PolicyChanged,
    PolicyError,
    RedisUnavailable,
    UnknownApproval,
)
from bot.mcp.results import ApprovalResult, decided, pending, tool_result

log = logging.getLogger(__name__)

ARGUMENTS_MAX = MAX_DETAILS
"""The arguments as JSON: shown in full on the card like the details, so held to the same size."""
WAIT_MAX = 55.0
"""``get_approval`` waits at most this long: under the 60 s request timeout many clients apply."""
PROGRESS_MAX = 60.0
UNREACHABLE = "the approval store (Redis) did not answer; try again in a moment"
STALL_GRACE = 5.0
"""How long past its own limit a bounded wait may take (the engine retrying a Redis that went away) before it is
given up with a tool error. A blocking ``request_approval`` without ``--block-for`` waits on, with its progress."""

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
        block_for: float | None = None,
        requester: str | None = None,
    ) -> None:
        if not 0 < progress_every <= PROGRESS_MAX:
            raise ValueError(f"progress_every must be in (0, {PROGRESS_MAX:.0f}] seconds, not {progress_every}")
        self._client = client
        self._default_timeout = min(default_timeout, MAX_TIMEOUT_S)
        self._every = progress_every
        self._block_for = block_for
        self._requester = requester

    async def request_approval(
        self,
        title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE, description="what needs a yes, in a line")],
        details: Annotated[
            str, Field(max_length=MAX_DETAILS, description="what exactly will happen, shown in full to the approver")
        ],
        ctx: Context[Any, Any],
        tool: Annotated[
            str | None,
            Field(
                min_length=1, max_length=MAX_TOOL, description="the tool about to be called, if this gates a tool call"
            ),
        ] = None,
        arguments: Annotated[
            dict[str, Any] | None, Field(description="that tool call's arguments (a JSON object), shown on the card")
        ] = None,
        timeout: Annotated[
            float | None,
            Field(gt=0, le=MAX_TIMEOUT_S, description="seconds people have to decide (default: the bot's)"),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=MAX_KEY,
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
                requester=self._requester or _client_name(ctx),
                timeout=expires_in,
                key=idempotency_key,
                tool=tool,
                arguments=arguments,
            )
        except KeyReused as exc:
            raise ToolError(
                f"idempotency_key was used before for a different request (approval {exc.approval.id}): "
                "use a new key for a new request"
            ) from exc
        except PolicyChanged as exc:
            raise ToolError("the bots' policy was changing while this was asked; ask again") from exc
        except PolicyError as exc:
            log.warning("the published policy could not be read: %s", exc)
            raise ToolError("the bots' published policy could not be read; nothing was asked") from exc
        except (RedisUnavailable, RedisError) as exc:
            raise _unreachable(exc) from exc
        except (ValueError, ApprovalError) as exc:
            raise ToolError(f"not asked: {exc}") from exc
        log.info("approval %s requested over MCP", request.approval_id)
        if request.decision is not None:
            return tool_result(decided(request.decision))
        if _progress_token(ctx) is None:
            return tool_result(pending(request.approval_id))
        decision = await self._wait(request.approval_id, ctx, limit=self._block_for, total=expires_in)
        return tool_result(decided(decision) if decision is not None else pending(request.approval_id))

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
        """The decision, or None when ``limit`` seconds passed first (None: no limit; the wait then ends at the
        deadline at the latest, expired). Progress notifications go out meanwhile when the call asked for them, on
        their own clock, so a Redis that stalls the wait does not silence the stream."""
        ticker = asyncio.create_task(self._tick(ctx, approval_id, total)) if _progress_token(ctx) is not None else None
        try:
            async with asyncio.timeout(None if limit is None else limit + STALL_GRACE):  # the engine retries Redis
                return await self._client.wait(approval_id, timeout=limit)
        except TimeoutError:
            log.warning("approval %s: Redis did not answer within %.0f s", approval_id, (limit or 0) + STALL_GRACE)
            raise ToolError(UNREACHABLE) from None
        except UnknownApproval as exc:
            raise ToolError(f"unknown approval id {approval_id!r} (never created, or too old)") from exc
        except (RedisUnavailable, RedisError) as exc:
            raise _unreachable(exc) from exc
        except ApprovalError as exc:
            raise ToolError(f"no decision read: {exc}") from exc
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)

    async def _tick(self, ctx: Context[Any, Any], approval_id: str, total: float | None) -> None:
        """A progress notification at once (naming the approval), then every ``progress_every`` seconds; the
        progress is the seconds waited, so it increases with each one (as the specification requires)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            elapsed = loop.time() - started
            said = f"waiting for a person to decide in Slack on approval {approval_id} ({elapsed:.0f} s so far)"
            try:
                await ctx.report_progress(elapsed, total, said)
            except Exception as exc:  # the client went away: its call's end is handled where it waits
                log.debug("approval %s: progress not sent (%s)", approval_id, type(exc).__name__)
                return
            await asyncio.sleep(self._every)


def _progress_token(ctx: Context[Any, Any]) -> str | int | None:
    meta = ctx.request_context.meta
    return meta.get("progress_token") if meta else None


def _client_name(ctx: Context[Any, Any]) -> str:
    """``mcp:<the client's name>`` as its ``initialize`` gave it (letters, digits, ``.``, ``_``, ``-`` kept), shown
    on the card as who asks; ``mcp`` when the client gave none (stateless HTTP keeps no handshake)."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    kept = "".join(char for char in name if char.isascii() and (char.isalnum() or char in "._-"))[:60]
    return f"mcp:{kept}" if kept else "mcp"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _unreachable(exc: Exception) -> ToolError:
    log.warning("the approval store did not answer: %s", type(exc).__name__)
    return ToolError(UNREACHABLE)
