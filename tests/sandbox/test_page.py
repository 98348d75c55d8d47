"""The sandbox page's HTTP side: its files, what each person's state holds, the live stream, and hostile text never
leaving the server as markup."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from bot.sandbox.page import assets
from bot.sandbox.page import stream as live
from tests.sandbox.support import BUTTONS, SANDBOX_SCOPES

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="alert(1)"> <javascript:alert(2)|click>'
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"index.html", "app.js", "blocks.js", "dialogs.js", "mrkdwn.js", "style.css"}


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(scopes=SANDBOX_SCOPES, page=True, page_hints=["/agent-task draft: a memo"]) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def state_of(http: aiohttp.ClientSession, slack: SlackEmulator, viewer: str) -> dict[str, Any]:
    async with http.get(f"{slack.page_url}page/state", params={"as": viewer}) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


def channel_named(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in state["channels"] if c["name"] == name)


async def next_event(stream: aiohttp.ClientResponse, timeout: float = 5) -> str:
    """The data of the next server-sent event (comment lines skipped)."""
    async with asyncio.timeout(timeout):
        data = None
        while True:
            line = (await stream.content.readline()).decode()
            if not line:
                raise EOFError("the stream ended")
            if line.startswith("data: "):
                data = line.removeprefix("data: ").rstrip("\n")
            elif line == "\n" and data is not None:
                return data


# -- the page and its files --------------------------------------------------------------------------------------


async def test_the_page_is_served_at_page_url_with_a_policy_that_runs_only_its_own_files(
    slack: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(slack.page_url) as response:
        html = await response.text()
        headers = response.headers

    assert slack.page_url == f"{slack.url}/"
    assert response.status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert '<script type="module" src="/static/app.js">' in html
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere


async def test_the_static_files_ship_as_package_data_and_nothing_else_is_served(
    slack: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    assert set(assets.names()) >= SHIPPED
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        async with http.get(f"{slack.page_url}static/{name}") as response:
            assert response.status == 200 and response.content_type == kind
            assert await response.read() == assets.read(name)
    for name in ("nothing.js", "..%2Fpage%2Fsite.py", "%2E%2E%2F__init__.py"):
        async with http.get(f"{slack.page_url}static/{name}") as response:
            assert response.status == 404


async def test_page_url_needs_the_page_switched_on() -> None:
    async with SlackEmulator() as plain, aiohttp.ClientSession() as http:
        with pytest.raises(RuntimeError, match="page=True"):
            _ = plain.page_url
        async with http.get(f"{plain.url}/") as response:
            assert response.status == 404


# -- what each person sees -----------------------------------------------------------------------------------------


async def test_the_state_shows_each_person_their_channels_threads_and_own_ephemerals(
    slack: SlackEmulator, http: aiohttp.ClientSession, client: AsyncWebClient
) -> None:
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    approvals = slack.add_channel("approvals", members=[slack.bot_user_id, alice, bob])
    slack.add_channel("ops", members=[slack.bot_user_id, bob])
    slack.add_channel("secret", private=True, members=[slack.bot_user_id, bob])
    card = await client.chat_postMessage(channel=approvals, text="card", blocks=BUTTONS)
    await client.chat_postMessage(channel=approvals, text="first reply", thread_ts=card["ts"])
    await client.chat_postEphemeral(channel=approvals, user=alice, text="only alice")
    await client.chat_postEphemeral(channel=approvals, user=alice, text="alice, in the thread", thread_ts=card["ts"])
    dm = await client.conversations_open(users=bob)
    await client.chat_postMessage(channel=dm["channel"]["id"], text="a DM to bob")

    seen_by_alice = await state_of(http, slack, alice)
    seen_by_bob = await state_of(http, slack, bob)

    assert [p["name"] for p in seen_by_alice["people"]] == ["alice", "bob"]  # never the bot
    assert [c["name"] for c in seen_by_alice["channels"]] == ["general", "approvals"]
    assert [(c["name"], c["kind"]) for c in seen_by_bob["channels"]] == [
        ("general", "public"),
        ("approvals", "public"),
        ("ops", "public"),
        ("secret", "private"),
        ("approval-bot", "im"),
    ]
    alices = channel_named(seen_by_alice, "approvals")["messages"]
    assert [(m["text"], m["ephemeral"]) for m in alices] == [("card", False), ("only alice", True)]
    assert alices[0]["blocks"][1]["elements"][0]["action_id"] == "approval_approve"
    assert alices[0]["reply_count"] == 1 and alices[0]["is_bot"] and alices[0]["user_name"] == "approval-bot"
    assert [r["text"] for r in alices[0]["replies"]] == ["first reply", "alice, in the thread"]
    bobs = channel_named(seen_by_bob, "approvals")["messages"]
    assert [m["text"] for m in bobs] == ["card"] and [r["text"] for r in bobs[0]["replies"]] == ["first reply"]
    assert seen_by_bob["names"]["users"][alice] == "alice" and seen_by_bob["hints"] == ["/agent-task draft: a memo"]
    assert seen_by_alice["modal"] is None and seen_by_alice["connected"] is False


async def test_a_state_for_someone_who_is_not_a_person_of_the_workspace_is_refused(
    slack: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    alice = slack.add_user("alice")
    for viewer in ("U0NOBODY01", slack.bot_user_id):
        async with http.get(f"{slack.page_url}page/state", params={"as": viewer}) as response:
            assert response.status == 400
    async with http.get(f"{slack.page_url}page/state") as response:  # no one named: the first person
        assert (await response.json())["viewer"] == alice


async def test_hostile_text_leaves_the_server_as_json_data_never_as_markup(
    slack: SlackEmulator, http: aiohttp.ClientSession, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    approvals = slack.add_channel("approvals", members=[slack.bot_user_id, alice])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": HOSTILE}}
    await client.chat_postMessage(channel=approvals, text=HOSTILE, blocks=[section])

    async with http.get(f"{slack.page_url}page/state", params={"as": alice}) as response:
        raw = await response.text()
        kind = response.headers["Content-Type"]
    async with http.get(f"{slack.page_url}page/events", params={"as": alice}) as stream:
        streamed = await next_event(stream)

    assert kind.startswith("application/json") and response.headers["X-Content-Type-Options"] == "nosniff"
    for body in (raw, streamed):
        assert "<" not in body and ">" not in body  # written as \u003c and \u003e
        message = channel_named(json.loads(body), "approvals")["messages"][0]
        assert message["text"] == HOSTILE and message["blocks"][0]["text"]["text"] == HOSTILE  # the same data


# -- the live stream -------------------------------------------------------------------------------------------------


async def test_the_stream_sends_the_state_at_once_and_again_when_the_app_changes_what_the_viewer_sees(
    slack: SlackEmulator, http: aiohttp.ClientSession, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    approvals = slack.add_channel("approvals", members=[slack.bot_user_id, alice])
    async with http.get(f"{slack.page_url}page/events", params={"as": alice}) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = json.loads(await next_event(stream))
        posted = await client.chat_postMessage(channel=approvals, text="hello")
        after_post = json.loads(await next_event(stream))
        await client.chat_update(channel=approvals, ts=posted["ts"], text="hello, edited")
        after_update = json.loads(await next_event(stream))

    assert channel_named(first, "approvals")["messages"] == []
    assert [m["text"] for m in channel_named(after_post, "approvals")["messages"]] == ["hello"]
    edited = channel_named(after_update, "approvals")["messages"]
    assert [(m["text"], m["edited"]) for m in edited] == [("hello, edited", True)]


async def test_closing_the_emulator_ends_every_open_stream_at_once() -> None:
    slack = await SlackEmulator(page=True).start()
    alice = slack.add_user("alice")
    async with aiohttp.ClientSession() as http:
        streams = [await http.get(f"{slack.page_url}page/events", params={"as": alice}) for _ in range(3)]
        for stream in streams:
            await next_event(stream)
        assert slack.page_streams == 3

        async with asyncio.timeout(2):  # well under the server's own shutdown wait
            await slack.aclose()
        for stream in streams:
            with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
                await next_event(stream)
            stream.release()


async def test_a_page_that_went_away_is_forgotten_by_its_next_heartbeat(
    slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "HEARTBEAT_S", 0.2)
    alice = slack.add_user("alice")
    async with aiohttp.ClientSession() as http:
        stream = await http.get(f"{slack.page_url}page/events", params={"as": alice})
        await next_event(stream)
        stream.close()
    assert slack.page_streams == 1

    await slack.wait_for(lambda: slack.page_streams == 0, timeout=5)


def test_a_built_wheel_carries_the_page_files(tmp_path: Path) -> None:
    """What ``pip install`` of a wheel (not of this checkout) gets: the static files, as package data."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("bot", "workflows"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path)]
    subprocess.run([*command, str(source)], check=True, capture_output=True, timeout=120)

    [wheel] = tmp_path.glob("slack_approval_bot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {Path(name).name for name in archive.namelist() if name.startswith("bot/sandbox/static/")}
    assert shipped == set(assets.names()) and shipped >= SHIPPED
