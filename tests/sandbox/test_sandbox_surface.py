"""The emulator's newer surface: DMs, permalinks, files, edits, rich_text, Enterprise Grid, user groups,
metadata, the Socket Mode connection limit, link_disabled and the 3 s ack deadline."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator, payloads
from tests.sandbox.support import SANDBOX_SCOPES, Connect, new_app, next_item


def event_app(slack: SlackEmulator) -> tuple[AsyncApp, asyncio.Queue[dict[str, Any]]]:
    app = new_app(slack)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        await events.put(event)

    return app, events


async def test_dm_opened_and_posted(slack: SlackEmulator, client: AsyncWebClient, alice: str) -> None:
    opened = await client.conversations_open(users=alice)
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and slack.dm_with(alice) == dm
    again = await client.conversations_open(users=alice)
    assert again["channel"]["id"] == dm and again["already_open"] is True
    info = await client.conversations_info(channel=dm)
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == alice

    await client.chat_postMessage(channel=dm, text="Your run finished")
    assert [m.text for m in slack.messages(dm)] == ["Your run finished"]


async def test_permalinks(slack: SlackEmulator, client: AsyncWebClient, approvals: str) -> None:
    parent = await client.chat_postMessage(channel=approvals, text="card")
    reply = await client.chat_postMessage(channel=approvals, text="more", thread_ts=parent["ts"])
    base = f"https://sandbox.slack.com/archives/{approvals}/p"
    link = await client.chat_getPermalink(channel=approvals, message_ts=parent["ts"])
    assert link["permalink"] == base + parent["ts"].replace(".", "")
    link = await client.chat_getPermalink(channel=approvals, message_ts=reply["ts"])
    assert link["permalink"] == f"{base}{reply['ts'].replace('.', '')}?thread_ts={parent['ts']}&cid={approvals}"


async def test_user_messages_carry_rich_text_files_and_edits(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app, events = event_app(slack)
    await connect(app)
    bob = slack.add_user("bob", user_id="W0BOB00001")
    parent = await client.chat_postMessage(channel=approvals, text="card")

    typed = "@bob see [the doc](https://example.com/a?b=1) & <!channel>"
    reply = await slack.user_message(alice, approvals, typed, thread_ts=parent["ts"], files=[{"name": "notes.txt"}])
    event = await next_item(events)
    assert event["text"] == f"<@{bob}> see <https://example.com/a?b=1|the doc> &amp; &lt;!channel&gt;"
    assert event["subtype"] == "file_share" and event["files"][0]["name"] == "notes.txt"
    [section] = event["blocks"][0]["elements"]
    assert section["elements"] == [
        {"type": "user", "user_id": bob},
        {"type": "text", "text": " see "},
        {"type": "link", "url": "https://example.com/a?b=1", "text": "the doc"},
        {"type": "text", "text": " & <!channel>"},
    ]

    await slack.edit_message(alice, approvals, reply.ts, "never mind")
    edit = await next_item(events)
    assert edit["subtype"] == "message_changed"
    assert edit["message"]["text"] == "never mind" and edit["message"]["edited"]["user"] == alice
    assert edit["previous_message"]["text"] == event["text"]


async def test_enterprise_grid_payloads(connect: Connect) -> None:
    async with SlackEmulator(scopes=SANDBOX_SCOPES, enterprise_id="E0GRID0001") as slack:
        user = slack.add_user("wes", user_id="W0WES00001")
        channel = slack.add_channel("approvals", members=[slack.bot_user_id, user])
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        posted = await client.chat_postMessage(
            channel=channel,
            text="card",
            blocks=[
                {
                    "type": "actions",
                    "elements": [{"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}],
                }
            ],
        )
        click = slack.build_click(user, channel, posted["ts"], "go")
        assert click["enterprise"] == {"id": "E0GRID0001", "name": "Sandbox Grid"}
        assert click["user"]["id"] == user and click["user"]["team_id"] == slack.team_id
        assert (await client.auth_test())["enterprise_id"] == "E0GRID0001"
        assert (await client.users_info(user=user))["user"]["enterprise_user"]["enterprise_id"] == "E0GRID0001"
        wrapper = payloads.event_callback(slack.workspace, {"type": "message", "text": "hi"})
        assert wrapper["enterprise_id"] == wrapper["context_enterprise_id"] == "E0GRID0001"
        assert wrapper["authorizations"][0]["enterprise_id"] == "E0GRID0001"


async def test_usergroups_and_metadata(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    group = slack.add_usergroup("approvers", [alice])
    assert group.startswith("S")
    assert (await client.usergroups_users_list(usergroup=group))["users"] == [alice]

    metadata = {"event_type": "approval_card", "event_payload": {"approval_id": "apr_1"}}
    posted = await client.chat_postMessage(channel=approvals, text="card", metadata=metadata)
    assert posted["message"]["metadata"] == metadata
    plain = await client.conversations_history(channel=approvals)
    assert "metadata" not in plain["messages"][0]
    full = await client.conversations_history(channel=approvals, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata


async def test_eleventh_connection_is_told_too_many_websockets(slack: SlackEmulator) -> None:
    apps = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    async with aiohttp.ClientSession() as session:
        sockets = []
        for _ in range(10):
            url = (await apps.apps_connections_open(app_token=slack.app_token))["url"]
            ws = await session.ws_connect(url)
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            sockets.append(ws)
        slack.advance(60)  # connections_open refills at Tier 1
        url = (await apps.apps_connections_open(app_token=slack.app_token))["url"]
        extra = await session.ws_connect(url)
        frame = await extra.receive_json(timeout=5)
        assert frame["type"] == "disconnect" and frame["reason"] == "too_many_websockets"
        assert len(slack.connections) == 10 and len(slack.refused_connections) == 1
        for ws in [*sockets, extra]:
            await ws.close()


async def test_link_disabled(slack: SlackEmulator) -> None:
    apps = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect((await apps.apps_connections_open(app_token=slack.app_token))["url"])
        await ws.receive_json(timeout=5)
        await slack.disable_socket_mode()
        frame = await ws.receive_json(timeout=5)
        assert (frame["type"], frame["reason"]) == ("disconnect", "link_disabled")
        with pytest.raises(SlackApiError) as raised:
            await apps.apps_connections_open(app_token=slack.app_token)
        assert raised.value.response["error"] == "access_denied"
        await ws.close()


async def test_unacked_envelopes_fail_and_events_are_retried(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app = new_app(slack)
    seen: asyncio.Queue[int] = asyncio.Queue()

    @app.event("message")
    async def on_message(event: dict[str, Any], request: Any) -> None:
        await seen.put(int(request.headers["x-slack-retry-num"][0]))

    await connect(app)
    shortcut = await slack.send_interactive({"type": "shortcut", "callback_id": "nobody_listens"})
    command = await slack.slash_command(alice, "nobody listens", channel_id=approvals)
    slack.advance(3)
    await slack.wait_for(lambda: len(slack.failures) >= 2)
    outcomes = {f.envelope.envelope_id: f.outcome for f in slack.failures}
    assert outcomes == {shortcut.envelope_id: "shown_warning", command.envelope_id: "shown_error"}
    assert [e.text for e in slack.ephemerals(alice)] == ['/agent-task failed with the error "operation_timeout"']

    assert slack.unacked == [shortcut, command]


async def test_unacked_event_is_redelivered_with_the_next_retry_attempt(slack: SlackEmulator, alice: str) -> None:
    approvals = slack.add_channel("approvals", members=[slack.bot_user_id, alice])
    apps = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect((await apps.apps_connections_open(app_token=slack.app_token))["url"])
        await ws.receive_json(timeout=5)  # hello
        message = await slack.user_message(alice, approvals, "hello")
        first = await ws.receive_json(timeout=5)  # not acked
        slack.advance(3)
        retry = await ws.receive_json(timeout=5)
        assert (first["retry_attempt"], retry["retry_attempt"], retry["retry_reason"]) == (0, 1, "timeout")
        assert retry["payload"]["event_id"] == first["payload"]["event_id"]
        assert retry["payload"]["event"]["ts"] == message.ts and retry["envelope_id"] != first["envelope_id"]
        await ws.send_json({"envelope_id": retry["envelope_id"]})
        await slack.wait_for(lambda: retry["envelope_id"] in slack.acks)
        assert [f.outcome for f in slack.failures] == ["retried"]
        await ws.close()
