"""``approval-bot mcp`` as an MCP client meets it: the SDK's own client (``mcp.ClientSession``) over stdio (the server
a subprocess it starts) and over Streamable HTTP (``approval-bot mcp --http``), a real bot posting the card to the
emulator, a real click, a real Redis. Nothing is mocked: the client, the engine and the bot are the real ones."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.conditions import until
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import action_ids, decided_card, post_prompt, revise_in_thread, texts
from tests.redis_server import free_port

PROGRESS_EVERY = "0.3"
SERVING = re.compile(rb"serving MCP over Streamable HTTP at (http://\S+)")

Connect = Callable[..., AbstractAsyncContextManager[ClientSession]]


def server_env(redis_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "OPENAI_", "APPROV", "REDIS_", "MODEL_")) and "PROXY" not in key.upper()
    }
    env.update(REDIS_URL=redis_url, LOG_LEVEL="INFO")
    return env


@asynccontextmanager
async def over_stdio(
    redis_url: str, workdir: Path, *options: str, modern: bool = False
) -> AsyncIterator[ClientSession]:
    """The client starts ``approval-bot mcp`` itself, as Claude Desktop or Claude Code would; its stderr is kept.
    ``modern``: the 2026-07-28 protocol (``server/discover``, no handshake) instead of ``initialize``."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot.cli", "mcp", "--progress-every", PROGRESS_EVERY, *options],
        env=server_env(redis_url),
        cwd=workdir,
    )
    with (workdir / "mcp.log").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await (session.discover() if modern else session.initialize())
            yield session


@asynccontextmanager
async def over_http(redis_url: str, workdir: Path, *options: str) -> AsyncIterator[ClientSession]:
    """``approval-bot mcp --http 127.0.0.1:0`` in its own process; the URL is the one its log line names."""
    log_path = workdir / "mcp.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot.cli", "mcp", "--http", "127.0.0.1:0", "--progress-every", PROGRESS_EVERY, *options),
            env=server_env(redis_url),
            cwd=workdir,
            stdout=log,
            stderr=log,
        )
    try:
        serving: list[str] = []

        def started() -> bool:
            found = SERVING.search(log_path.read_bytes())
            if found:
                serving.append(found.group(1).decode())
            assert process.returncode is None, log_path.read_text()
            return bool(found)

        await until(started, timeout=30, what="the MCP server's URL")
        async with streamable_http_client(serving[0]) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Connect:
    """One MCP client session to a fresh ``approval-bot mcp``, over the transport this run of the test is for."""
    opener = over_stdio if request.param == "stdio" else over_http
    return lambda *options: opener(redis_url, tmp_path, *options)


def outcome(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def said(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def test_a_blocking_call_gets_progress_while_waiting_and_the_decision_after_the_click(
    slack: SlackEmulator, people: People, start_bot, connect: Connect
) -> None:
    await start_bot()
    mark = slack.mark()
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with connect() as session:
        call = asyncio.create_task(
            session.call_tool(
                "request_approval",
                {"title": "Deploy api v2.3 to production", "details": "kubectl rollout <!channel> & friends"},
                progress_callback=on_progress,
            )
        )
        card = await post_prompt(slack, people, mark)
        shown = texts(slack.message(people.approvals, card.response["ts"]).blocks)
        assert "Deploy api v2.3 to production" in shown
        assert "&lt;!channel&gt; &amp; friends" in shown  # the asker's text is escaped: it pings nobody
        assert "*Requested by* mcp" in shown  # mcp:<client name> where the transport keeps the handshake
        await until(lambda: len(progress) >= 2, timeout=10, what="two progress notifications")
        assert not call.done()  # still waiting for a person

        await slack.click(people.bob, people.approvals, card.response["ts"], blocks.ACTION_APPROVE)
        result = await asyncio.wait_for(call, 15)

    decision = outcome(result)
    assert decision["status"] == "approved" and decision["by"] == people.bob and decision["at"]
    assert "Go ahead" in said(result)
    assert [p for p, _, _ in progress] == sorted({p for p, _, _ in progress})  # strictly increasing
    assert decision["approval_id"] in (progress[0][2] or "")  # the first notification names the approval
    updated = await decided_card(slack, people, card.response["ts"])
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)


async def test_without_progress_the_call_returns_pending_and_get_approval_waits_for_the_decision(
    slack: SlackEmulator, people: People, start_bot, connect: Connect
) -> None:
    await start_bot()
    mark = slack.mark()
    async with connect() as session:
        asked = await session.call_tool(
            "request_approval",
            {
                "title": "Send the renewal email",
                "details": "To 1,204 customers",
                "tool": "send_email",
                "arguments": {"to": "customers@example.com", "subject": "Renewal"},
            },
        )
        pending = outcome(asked)
        assert pending["status"] == "pending" and "get_approval" in said(asked)
        approval_id = pending["approval_id"]
        card = await post_prompt(slack, people, mark)
        assert "customers@example.com" in texts(slack.message(people.approvals, card.response["ts"]).blocks)

        still = outcome(await session.call_tool("get_approval", {"approval_id": approval_id, "wait_seconds": 0}))
        assert still == {**still, "status": "pending", "approval_id": approval_id}

        waiting = asyncio.create_task(session.call_tool("get_approval", {"approval_id": approval_id}))
        await revise_in_thread(slack, people, card.response["ts"], "Only the EU customers, please")
        revised = outcome(await asyncio.wait_for(waiting, 20))

    assert revised["status"] == "revised" and revised["by"] == people.bob
    assert revised["feedback"] == "Only the EU customers, please"


async def test_a_deny_rule_answers_at_once_and_posts_no_card(
    slack: SlackEmulator, people: People, start_bot, connect: Connect, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("rules:\n  - {name: no-drops, tool: 'drop_*', action: deny}\n")
    await start_bot(POLICY_FILE=str(policy))
    mark = slack.mark()
    async with connect() as session:
        refused = await session.call_tool(
            "request_approval",
            {"title": "Drop the old table", "details": "DROP TABLE t", "tool": "drop_table", "arguments": {"t": "x"}},
            progress_callback=lambda *_: asyncio.sleep(0),
        )
        asked = await session.call_tool("request_approval", {"title": "Something else", "details": "a card"})
        card = await post_prompt(slack, people, mark)

    denied = outcome(refused)
    assert denied["status"] == "denied" and denied["rule"] == "no-drops"
    assert "Do not go ahead" in said(refused)
    assert outcome(asked)["status"] == "pending"
    cards = [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == people.approvals]
    assert [c.response["ts"] for c in cards if not c.params.get("thread_ts")] == [card.response["ts"]]
    assert action_ids(slack.message(people.approvals, card.response["ts"]).blocks)


async def test_bad_calls_get_tool_errors_and_the_server_keeps_serving(redis_url: str, connect: Connect) -> None:
    async with connect() as session:
        bad = {
            "unknown id": ("get_approval", {"approval_id": "no-such-approval.1", "wait_seconds": 0}),
            "missing title": ("request_approval", {"details": "x"}),
            "arguments not an object": (
                "request_approval",
                {"title": "t", "details": "d", "tool": "x", "arguments": [1]},
            ),
            "negative timeout": ("request_approval", {"title": "t", "details": "d", "timeout": -5}),
            "huge details": ("request_approval", {"title": "t", "details": "x" * 200_000}),
            "wait too long": ("get_approval", {"approval_id": "a.1", "wait_seconds": 3600}),
            "arguments without a tool": ("request_approval", {"title": "t", "details": "d", "arguments": {}}),
        }
        answers = {what: await session.call_tool(name, args) for what, (name, args) in bad.items()}
        after = await session.call_tool("request_approval", {"title": "Still here?", "details": "yes"})

    for what, answer in answers.items():
        assert answer.is_error, what
        assert said(answer), what
    assert "unknown approval" in said(answers["unknown id"])
    assert "title" in said(answers["missing title"])
    assert "details" in said(answers["huge details"]) and "x" * 1000 not in said(answers["huge details"])
    assert outcome(after)["status"] == "pending"


async def test_the_same_idempotency_key_gives_the_same_approval(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    await start_bot()
    mark = slack.mark()
    ask = {"title": "Rotate the keys", "details": "all of them", "idempotency_key": "rotate-2026-12"}
    async with over_stdio(redis_url, tmp_path) as session:
        first = outcome(await session.call_tool("request_approval", ask))
        card = await post_prompt(slack, people, mark)
        second = outcome(await session.call_tool("request_approval", ask))
        await slack.click(people.alice, people.approvals, card.response["ts"], blocks.ACTION_CANCEL)
        ended = outcome(await session.call_tool("get_approval", {"approval_id": first["approval_id"]}))

    assert second["approval_id"] == first["approval_id"]
    assert ended["status"] == "cancelled" and ended["by"] == people.alice
    cards = [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == people.approvals]
    assert len([c for c in cards if not c.params.get("thread_ts")]) == 1


async def test_a_blocking_call_nobody_answers_ends_expired_at_the_deadline(redis_url: str, tmp_path: Path) -> None:
    async with over_stdio(redis_url, tmp_path) as session:
        answer = await asyncio.wait_for(
            session.call_tool(
                "request_approval",
                {"title": "Nobody is around", "details": "d", "timeout": 1},
                progress_callback=lambda *_: asyncio.sleep(0),
            ),
            15,
        )
        again = outcome(await session.call_tool("get_approval", {"approval_id": outcome(answer)["approval_id"]}))

    assert outcome(answer)["status"] == "expired" and "do not go ahead" in said(answer).lower()
    assert again["status"] == "expired"  # recorded: asking later gives the same answer at once


async def test_a_cancelled_blocking_call_leaves_the_approval_pending_to_wait_on_again(
    redis_url: str, connect: Connect
) -> None:
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    ask = {"title": "Deploy", "details": "d", "idempotency_key": "deploy-42"}
    async with connect() as session:
        call = asyncio.create_task(session.call_tool("request_approval", ask, progress_callback=on_progress))
        await until(lambda: bool(progress), timeout=10, what="the first progress notification")
        call.cancel()  # the SDK tells the server (notifications/cancelled)
        with pytest.raises(asyncio.CancelledError):
            await call
        again = outcome(await session.call_tool("request_approval", ask))
        still = outcome(
            await session.call_tool("get_approval", {"approval_id": again["approval_id"], "wait_seconds": 0})
        )

    assert again["status"] == still["status"] == "pending"
    assert again["approval_id"] in (progress[0] or "")  # the same approval as the cancelled call's


async def test_a_blocking_call_answers_pending_after_block_for(redis_url: str, tmp_path: Path) -> None:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with over_stdio(redis_url, tmp_path, "--block-for", "1") as session:
        answer = await session.call_tool(
            "request_approval", {"title": "Nobody decides this", "details": "d"}, progress_callback=on_progress
        )

    assert outcome(answer)["status"] == "pending"
    assert len(progress) >= 3  # at once, then every 0.3 s until the second it may block


async def test_the_2026_protocol_gets_progress_and_the_decision_too(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    """The SDK's client on the stateless 2026-07-28 revision (``server/discover``, no ``initialize``)."""
    await start_bot()
    mark = slack.mark()
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with over_stdio(redis_url, tmp_path, modern=True) as session:
        assert session.protocol_version == "2026-07-28"
        call = asyncio.create_task(
            session.call_tool("request_approval", {"title": "Ship it", "details": "v9"}, progress_callback=on_progress)
        )
        card = await post_prompt(slack, people, mark)
        await until(lambda: len(progress) >= 2, timeout=10, what="two progress notifications")
        await slack.click(people.alice, people.approvals, card.response["ts"], blocks.ACTION_CANCEL)
        result = outcome(await asyncio.wait_for(call, 15))

    assert result["status"] == "cancelled" and result["by"] == people.alice


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_stdout_carries_the_protocol_only_and_logs_go_to_stderr(redis_url: str, tmp_path: Path) -> None:
    """What a stdio client reads: every stdout line is one JSON-RPC message, even around a failing call."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "mcp"),
        env=server_env(redis_url),
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_approval", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}},
        # Nested past pydantic-core's JSON recursion limit: mcp 2.3's transport drops it with a DEBUG line and no
        # answer (so the asker waits for its own timeout), and must go on serving the next message.
        {
            "jsonrpc": "2.0",
            "id": 9,
            "method": "tools/call",
            "params": {"name": "get_approval", "arguments": nested(300)},
        },
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "request_approval", "arguments": {"title": "t", "details": "d"}},
        },
    ]
    process.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))  # json.dumps nests any depth
    await process.stdin.drain()
    answers: dict[int, dict[str, Any]] = {}
    async with asyncio.timeout(30):
        while not {1, 2, 3, 4} <= answers.keys():
            line = await process.stdout.readline()
            assert line, (await process.stderr.read()).decode()
            message = json.loads(line)  # anything else on stdout would break the client
            assert message["jsonrpc"] == "2.0"
            if "id" in message:
                answers[message["id"]] = message
    process.stdin.close()
    await asyncio.wait_for(process.wait(), 15)
    rest, logs = await process.stdout.read(), (await process.stderr.read()).decode()

    assert answers[1]["result"]["serverInfo"]["name"] == "approval-bot"
    assert answers[2]["result"]["isError"] is True
    assert "error" in answers[3] or answers[3]["result"]["isError"] is True
    assert answers[4]["result"]["structuredContent"]["status"] == "pending"
    assert rest == b"" and process.returncode == 0
    assert "serving MCP over stdio" in logs and "requested over MCP" in logs


async def test_without_redis_it_says_so_in_one_line_and_exits_1(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "mcp"),
        env=server_env(f"redis://:hunter2hunter2@127.0.0.1:{free_port()}/0"),
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 1 and out == b""
    assert "did not answer" in err.decode() and "REDIS_URL" in err.decode()
    assert "Traceback" not in err.decode() and "hunter2" not in err.decode()


async def test_a_stalled_redis_is_a_tool_error_for_get_approval_and_a_blocking_call_waits_on(
    make_redis_server, tmp_path: Path
) -> None:
    redis = make_redis_server()
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with over_stdio(redis.url, tmp_path) as session:
        ask = {"title": "Wait through it", "details": "d", "idempotency_key": "through-a-stall"}
        blocking = asyncio.create_task(session.call_tool("request_approval", ask, progress_callback=on_progress))
        await until(lambda: bool(progress), timeout=10, what="the first progress notification")
        approval_id = outcome(await session.call_tool("request_approval", ask))["approval_id"]
        redis.stall()  # SIGSTOP: connections stay open and nothing answers
        try:
            stalled = await asyncio.wait_for(
                session.call_tool("get_approval", {"approval_id": approval_id, "wait_seconds": 1}), 20
            )
            seen = len(progress)
            await until(lambda: len(progress) >= seen + 3, timeout=10, what="progress during the stall")
        finally:
            redis.resume()
        after = outcome(await session.call_tool("get_approval", {"approval_id": approval_id, "wait_seconds": 0}))
        assert not blocking.done()
        blocking.cancel()

    assert stalled.is_error and "did not answer" in said(stalled)
    assert after["status"] == "pending"
