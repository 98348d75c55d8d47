"""What a person does on the sandbox page reaches a real Bolt app as Slack's own envelopes (through the emulator's
inputs), and a request Slack's client would not make gets a plain 400 with nothing sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.sandbox import SlackEmulator
from tests.sandbox.support import BUTTONS, SANDBOX_SCOPES, Connect, new_app, next_item

NOTE = {
    "type": "modal",
    "callback_id": "note",
    "notify_on_close": True,
    "title": {"type": "plain_text", "text": "A note"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "note",
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True, "initial_value": "draft"},
        }
    ],
}


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(scopes=SANDBOX_SCOPES, page=True) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def people(slack: SlackEmulator) -> tuple[str, str]:
    alice = slack.add_user("alice")
    return alice, slack.add_channel("approvals", members=[slack.bot_user_id, alice])


async def act(
    http: aiohttp.ClientSession, slack: SlackEmulator, action: str, body: dict[str, Any], **headers: str
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{slack.page_url}page/{action}", json=body, headers=headers) as response:
        return response.status, dict(await response.json())


async def card_and_app(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, channel: str
) -> tuple[asyncio.Queue[dict[str, Any]], AsyncSlackResponse]:
    """A connected ``recording_app`` (what it is sent, queued) and a card with ``BUTTONS`` posted in ``channel``."""
    app, seen = recording_app(slack)
    await connect(app)
    return seen, await client.chat_postMessage(channel=channel, text="card", blocks=BUTTONS)


def recording_app(slack: SlackEmulator) -> tuple[AsyncApp, asyncio.Queue[dict[str, Any]]]:
    """An app that acks everything and queues each payload it is sent; a click on ``open`` opens ``NOTE``;
    a submitted note that says "bad" is answered with an error under its input."""
    app = new_app(slack)
    seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.command("/agent-task")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack()
        await seen.put(command)

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        await seen.put(event)

    @app.action("approval_approve")
    async def on_click(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=NOTE)
        await seen.put(body)

    @app.view("note")
    async def on_submit(ack: Any, view: dict[str, Any]) -> None:
        text = view["state"]["values"]["note"]["text"]["value"]
        await (ack(response_action="errors", errors={"note": "Not that."}) if text == "bad" else ack())
        await seen.put(view)

    @app.view_closed("note")
    async def on_close(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await seen.put(body)

    return app, seen


async def test_a_command_typed_on_the_page_reaches_the_app_as_a_slash_command(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect
) -> None:
    alice, approvals = people
    app, seen = recording_app(slack)
    await connect(app)

    status, answer = await act(
        http, slack, "send", {"as": alice, "channel": approvals, "text": "/agent-task  draft: memo"}
    )
    command = await next_item(seen)

    assert (status, answer) == (200, {"ok": True})
    assert command["command"] == "/agent-task" and command["text"] == "draft: memo"
    assert command["user_id"] == alice and command["channel_id"] == approvals


async def test_a_reply_typed_in_a_thread_reaches_the_app_and_the_page_state(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect, client: AsyncWebClient
) -> None:
    alice, approvals = people
    seen, card = await card_and_app(slack, connect, client, approvals)

    body = {"as": alice, "channel": approvals, "text": "shorter & <b>kinder</b>", "thread_ts": card["ts"]}
    status, _ = await act(http, slack, "send", body)
    event = await next_item(seen)

    assert status == 200
    assert event["thread_ts"] == card["ts"] and event["user"] == alice
    assert event["text"] == "shorter &amp; &lt;b&gt;kinder&lt;/b&gt;"  # as Slack's client escapes what people type
    assert [m.user for m in slack.thread(approvals, card["ts"])] == [alice]


async def test_a_click_reaches_the_app_and_its_modal_opens_submits_and_closes_through_the_page(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect, client: AsyncWebClient
) -> None:
    alice, approvals = people
    seen, card = await card_and_app(slack, connect, client, approvals)

    click = {"as": alice, "channel": approvals, "ts": card["ts"], "action_id": "approval_approve", "value": "apr_7f3c"}
    assert (await act(http, slack, "click", click))[0] == 200
    clicked = await next_item(seen)
    view_id = (await slack.wait_for(lambda: slack.open_views(alice)))[0].id
    refused = await act(http, slack, "submit", {"as": alice, "view_id": view_id, "values": {"note": {"text": "bad"}}})
    rejected = await next_item(seen)
    await slack.wait_for(lambda: slack.view(view_id).errors)
    submitted = await act(http, slack, "submit", {"as": alice, "view_id": view_id, "values": {"note": {"text": "ok"}}})
    accepted = await next_item(seen)

    assert clicked["actions"][0]["value"] == "apr_7f3c" and clicked["user"]["id"] == alice
    assert refused[0] == 200 and rejected["state"]["values"]["note"]["text"]["value"] == "bad"
    assert submitted[0] == 200 and accepted["state"]["values"]["note"]["text"]["value"] == "ok"
    await slack.wait_for(lambda: not slack.view(view_id).is_open)

    await act(http, slack, "click", click)
    await next_item(seen)
    second = (await slack.wait_for(lambda: slack.open_views(alice)))[0].id
    assert (await act(http, slack, "close", {"as": alice, "view_id": second}))[0] == 200
    closed = await next_item(seen)
    assert closed["type"] == "view_closed" and closed["view"]["id"] == second


async def test_the_page_state_shows_the_modal_and_the_apps_errors_under_its_input(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect, client: AsyncWebClient
) -> None:
    alice, approvals = people
    _, card = await card_and_app(slack, connect, client, approvals)
    click = {"as": alice, "channel": approvals, "ts": card["ts"], "action_id": "approval_approve"}
    await act(http, slack, "click", click)
    view_id = (await slack.wait_for(lambda: slack.open_views(alice)))[0].id
    await act(http, slack, "submit", {"as": alice, "view_id": view_id, "values": {"note": {"text": "bad"}}})
    await slack.wait_for(lambda: slack.view(view_id).errors)

    async with http.get(f"{slack.page_url}page/state", params={"as": alice}) as response:
        modal = (await response.json())["modal"]

    assert modal["id"] == view_id and modal["title"]["text"] == "A note" and modal["submit"]["text"] == "Save"
    assert modal["errors"] == {"note": "Not that."}
    assert modal["values"]["note"]["text"]["value"] == "bad"  # what was typed stays
    assert modal["blocks"][0]["element"]["initial_value"] == "draft"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"text": "/deploy now"}, "/deploy is not a valid command here (/agent-task); to send a message that"),
        ({"text": "/agent-task draft: x", "thread_ts": "1700000000.000100"}, "cannot be used in a thread"),
        ({"text": ""}, "text must be a non-empty string"),
        ({"text": "  \n "}, "text must be a non-empty string"),
        ({"text": "x" * 40_001}, "at most 40000 characters"),
        ({"text": "hello", "channel": "C0NOWHERE1"}, "no channel"),
        ({"text": "hello", "as": "U0NOBODY01"}, "as must be the id of a person"),
    ],
)
async def test_what_a_slack_client_would_not_send_is_refused_in_plain_words(
    slack: SlackEmulator,
    http: aiohttp.ClientSession,
    people: tuple[str, str],
    connect: Connect,
    body: dict[str, Any],
    why: str,
) -> None:
    alice, approvals = people
    await connect(recording_app(slack)[0])
    mark = len(slack.envelopes)

    status, answer = await act(http, slack, "send", {"as": alice, "channel": approvals, **body})

    assert status == 400 and answer["ok"] is False and why in answer["error"]
    assert len(slack.envelopes) == mark and slack.messages(approvals) == []


async def test_the_bot_cannot_be_impersonated_and_a_view_must_be_the_viewers(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect
) -> None:
    alice, approvals = people
    await connect(recording_app(slack)[0])

    as_bot = await act(http, slack, "send", {"as": slack.bot_user_id, "channel": approvals, "text": "hi"})
    not_theirs = await act(http, slack, "submit", {"as": alice, "view_id": "V0NOTHERS1"})

    assert as_bot[0] == 400 and "person" in as_bot[1]["error"]
    assert not_theirs[0] == 400 and "V0NOTHERS1" in not_theirs[1]["error"]


async def test_requests_from_another_site_or_not_in_json_are_refused(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str]
) -> None:
    alice, approvals = people
    body = {"as": alice, "channel": approvals, "text": "hello"}
    url = f"{slack.page_url}page/send"

    cross_site = await act(http, slack, "send", body, Origin="http://evil.example")
    rebound = await act(http, slack, "send", body, Host="evil.example")
    async with http.post(url, data=body) as form:  # what a cross-site <form> can send without a preflight
        form_status = form.status
    async with http.post(url, data="not json", headers={"Content-Type": "application/json"}) as garbled:
        garbled_status, garbled_answer = garbled.status, await garbled.json()

    assert cross_site[0] == 403 and rebound[0] == 403 and form_status == 415
    assert garbled_status == 400 and garbled_answer["error"] == "the request is not JSON"
    assert slack.messages(approvals) == [] and slack.envelopes == []


async def test_the_home_tab_opens_shows_the_published_view_and_its_buttons_click_from_the_view(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect, client: AsyncWebClient
) -> None:
    alice, _ = people
    app = new_app(slack)
    seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.event("app_home_opened")
    async def on_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": BUTTONS})
        await seen.put(event)

    @app.action("approval_cancel")
    async def on_click(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await seen.put(body)

    await connect(app)

    assert (await act(http, slack, "home_open", {"as": alice}))[0] == 200
    opened = await next_item(seen)
    home = await slack.wait_for(lambda: slack.home_view(alice))
    async with http.get(f"{slack.page_url}page/state", params={"as": alice}) as response:
        shown = (await response.json())["home"]
    click = {"as": alice, "action_id": "approval_cancel", "value": "apr_7f3c", "block_id": "approval_actions"}
    assert (await act(http, slack, "home_click", click))[0] == 200
    clicked = await next_item(seen)
    messages_tab = await act(http, slack, "home_open", {"as": alice, "tab": "messages"})
    other_tab = await act(http, slack, "home_open", {"as": alice, "tab": "settings"})

    assert opened["tab"] == "home" and opened["user"] == alice
    assert shown == {"id": home["id"], "hash": home["hash"], "blocks": home["blocks"]}
    assert clicked["container"] == {"type": "view", "view_id": home["id"]} and "channel" not in clicked
    assert clicked["actions"][0]["value"] == "apr_7f3c" and clicked["user"]["id"] == alice
    assert messages_tab[0] == 200 and (await next_item(seen))["tab"] == "messages"
    assert other_tab[0] == 400 and "home or messages" in other_tab[1]["error"]


async def test_with_the_app_not_connected_the_page_is_told_at_once(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str]
) -> None:
    alice, approvals = people

    async with asyncio.timeout(1):  # not the emulator's 10 s wait for a connection
        status, answer = await act(http, slack, "send", {"as": alice, "channel": approvals, "text": "/agent-task x"})

    assert status == 503 and "approval-bot is not connected" in answer["error"] and "dispatch_failed" in answer["error"]
    assert slack.envelopes == []


async def test_a_message_may_start_with_a_slash_after_a_space(
    slack: SlackEmulator, http: aiohttp.ClientSession, people: tuple[str, str], connect: Connect
) -> None:
    alice, approvals = people
    app, seen = recording_app(slack)
    await connect(app)

    status, _ = await act(http, slack, "send", {"as": alice, "channel": approvals, "text": " /etc/hosts is wrong "})
    event = await next_item(seen)

    assert status == 200 and event["text"] == "/etc/hosts is wrong" and "command" not in event


async def test_in_http_mode_the_page_reaches_the_app_through_its_request_url(http: aiohttp.ClientSession) -> None:
    async with SlackEmulator(scopes=SANDBOX_SCOPES, page=True, signing_secret="a-signing-secret") as slack:
        alice = slack.add_user("alice")
        app = AsyncApp(
            client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret="a-signing-secret"
        )
        seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        @app.command("/agent-task")
        async def on_command(ack: Any, command: dict[str, Any]) -> None:
            await ack()
            await seen.put(command)

        typed = {"as": alice, "channel": slack.general, "text": "/agent-task draft: memo"}
        before = await act(http, slack, "send", typed)  # no Request URL yet: nothing can reach the app
        runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            slack.add_request_url(f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events")
            async with http.get(f"{slack.page_url}page/state", params={"as": alice}) as response:
                connected = (await response.json())["connected"]
            after = await act(http, slack, "send", typed)
            command = await next_item(seen)
        finally:
            await runner.cleanup()

    assert before[0] == 503 and connected is True
    assert after[0] == 200 and command["text"] == "draft: memo" and command["user_id"] == alice
