"""``approval-bot mcp``: the approval gate as an MCP server (the official ``mcp`` SDK's ``MCPServer``).

stdio by default: the client starts this process and speaks JSON-RPC over its stdin and stdout, so nothing but the
protocol may reach stdout (modelcontextprotocol.io/specification/2025-11-25/basic/transports#stdio: "The server
MUST NOT write anything to its stdout that is not a valid MCP message"); logs go to stderr. ``--http HOST:PORT``
serves Streamable HTTP at ``/mcp`` instead, stateless (no session kept in this process; every approval lives in
Redis), so several replicas may sit behind one load balancer.

Cards are posted by whichever ``approval-bot run`` replica is running, from the card requests the client queues.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from bot.mcp.tools import Gate

log = logging.getLogger(__name__)

NAME = "approval-bot"
PATH = "/mcp"
INSTRUCTIONS = (
    "Before anything irreversible (a deploy, a payment, a deletion, an email to customers), call request_approval "
    "and go ahead only when its status is approved. A pending status means a person has not decided yet: call "
    "get_approval with the approval_id until it is not pending."
)


def build_server(gate: Gate) -> MCPServer:
    server: MCPServer = MCPServer(NAME, instructions=INSTRUCTIONS, version=_version())
    server.add_tool(
        gate.request_approval,
        title="Request approval",
        # Not idempotent: without an idempotency_key each call asks anew (a new card).
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    server.add_tool(
        gate.get_approval,
        title="Get an approval's decision",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    return server


async def serve_stdio(server: MCPServer) -> None:
    log.info("serving MCP over stdio")
    await server.run_stdio_async()


async def serve_http(server: MCPServer, host: str, port: int) -> None:
    """Streamable HTTP at ``http://HOST:PORT/mcp`` until SIGINT or SIGTERM (uvicorn's own handlers). The socket
    is bound first so that port 0 works and the log line names the port actually bound."""
    app = server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, host=host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)  # a line per stateless request
    log.info("serving MCP over Streamable HTTP at http://%s:%d%s", shown, bound, PATH)
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()


def parse_address(raw: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT`` (127.0.0.1); ValueError naming what is wrong."""
    host, sep, port_text = raw.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"--http takes HOST:PORT (for example 127.0.0.1:8765), not {raw!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"--http: port {port} is out of range")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    return host, port


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slack-approval-bot")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0"


__all__: Sequence[str] = ["build_server", "parse_address", "serve_http", "serve_stdio"]
