"""The emulator in HTTP mode, against Bolt's own aiohttp adapter (``AsyncApp.web_app()``) with its signature
check on: Slack's wire formats, signatures, the 3 s deadline, retries and their headers, several Request URLs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from bot.sandbox.signing import RETRY_NUM, RETRY_REASON, SIGNATURE, TIMESTAMP
from tests.sandbox.support import BUTTONS, SANDBOX_SCOPES

SECRET = "5f0c8a1e9b7d4c3a2e1f0d9c8b7a6e5d"
Serve = Callable[[AsyncApp], Awaitable[str]]


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(scopes=SANDBOX_SCOPES, signing_secret=SECRET) as emulator:
        yield emulator


@pytest.fixture
async def serve(slack: SlackEmulator) -> AsyncIterator[Serve]:
    """Serve a Bolt app over HTTP on 127.0.0.1 (a free port); returns its Request URL, already added."""
    runners: list[web.AppRunner] = []

    async def _serve(app: AsyncApp) -> str:
        runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        slack.add_request_url(url)
        return url

    yield _serve
    for runner in runners:
        await runner.cleanup()


def bolt(slack: SlackEmulator, secret: str = SECRET) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret=secret)


async def test_a_command_is_form_encoded_signed_and_its_ack_is_the_reply(
    slack: SlackEmulator, serve: Serve, alice: str, approvals: str
) -> None:
    app = bolt(slack)

    @app.command("/agent-task")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(f"Started: {command['text']}")

    await serve(app)
    envelope = await slack.slash_command(alice, "ship it", channel_id=approvals)
    ack = await slack.wait_ack(envelope)
    sent = slack.request_of(envelope)

    assert ack["payload"] == {"text": "Started: ship it"}
    assert [m.text for m in slack.ephemerals(alice)] == ["Started: ship it"]
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.body.decode())["text"] == ["ship it"]
    assert SignatureVerifier(SECRET).is_valid(sent.body, sent.headers[TIMESTAMP], sent.headers[SIGNATURE])
    assert RETRY_NUM not in sent.headers and slack.failures == []


async def test_a_click_is_one_payload_field_and_an_event_is_json(
    slack: SlackEmulator, serve: Serve, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app = bolt(slack)
    heard: list[str] = []

    @app.action("approval_approve")
    async def on_click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        heard.append(body["actions"][0]["value"])

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        heard.append(event["text"])

    await serve(app)
    card = await client.chat_postMessage(channel=approvals, text="Approve?", blocks=BUTTONS)
    click = await slack.click(alice, approvals, card["ts"], "approval_approve")
    await slack.wait_ack(click)
    message = await slack.user_message(alice, approvals, "looks good", thread_ts=card["ts"])
    event = slack.event_envelope(message.ts)
    assert event is not None
    await slack.wait_ack(event)
    await slack.wait_for(lambda: len(heard) == 2 or None)

    form = parse_qs(slack.request_of(click).body.decode())
    assert set(form) == {"payload"} and json.loads(form["payload"][0])["type"] == "block_actions"
    posted = slack.request_of(event)
    assert posted.headers["Content-Type"] == "application/json"
    assert json.loads(posted.body)["event"]["text"] == "looks good"
    assert heard == ["apr_7f3c", "looks good"]


async def test_a_slow_answer_to_an_event_is_retried_at_the_deadline_with_retry_headers(
    slack: SlackEmulator, serve: Serve, alice: str, approvals: str
) -> None:
    app = bolt(slack)
    gate = asyncio.Event()
    arrivals: list[tuple[str, list[str]]] = []

    @app.middleware
    async def slow_first(body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        arrivals.append((body["event_id"], context.get("retry_num") or []))
        if len(arrivals) == 1:
            await gate.wait()  # the first answer comes late
        await next()

    @app.event("message")
    async def on_message() -> None:
        pass

    await serve(app)
    sending = asyncio.ensure_future(slack.user_message(alice, approvals, "hello"))
    await slack.wait_for(lambda: arrivals or None)
    slack.advance(3.0)
    await sending
    retried = await slack.wait_for(lambda: [e for e in slack.envelopes if e.retry_attempt == 1] or None)
    await slack.wait_ack(retried[0])
    gate.set()

    [failure] = slack.failures
    assert (failure.outcome, failure.reason) == ("retried", "http_timeout")
    headers = slack.request_of(retried[0]).headers
    assert (headers[RETRY_NUM], headers[RETRY_REASON]) == ("1", "http_timeout")
    assert arrivals[0][0] == arrivals[1][0]  # the same event_id: how an app knows it is a retry


async def test_a_slow_command_is_not_retried_and_the_person_sees_the_timeout(
    slack: SlackEmulator, serve: Serve, alice: str, approvals: str
) -> None:
    app = bolt(slack)
    gate = asyncio.Event()
    arrived = asyncio.Event()

    @app.command("/agent-task")
    async def on_command(ack: AsyncAck) -> None:
        arrived.set()
        await gate.wait()
        await ack("too late")

    await serve(app)
    sending = asyncio.ensure_future(slack.slash_command(alice, "ship it", channel_id=approvals))
    await asyncio.wait_for(arrived.wait(), 5)
    slack.advance(3.0)
    envelope = await sending
    await slack.wait_for(lambda: slack.failures or None)
    gate.set()
    await slack.wait_ack(envelope)  # the late answer arrives, and changes nothing

    assert [(f.outcome, f.reason) for f in slack.failures] == [("shown_error", "http_timeout")]
    assert [m.text for m in slack.ephemerals(alice)] == ['/agent-task failed with the error "operation_timeout"']
    assert len(slack.envelopes) == 1


async def test_an_error_answer_and_an_unreachable_url_are_failures_of_their_own_kinds(
    slack: SlackEmulator, alice: str, approvals: str
) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/slack/events", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    await runner.cleanup()  # nothing listens there any more
    slack.add_request_url(f"http://127.0.0.1:{port}/slack/events")
    await slack.slash_command(alice, "ship it", channel_id=approvals)
    await slack.wait_for(lambda: slack.failures or None)

    failing = web.AppRunner(app, access_log=None)
    await failing.setup()
    await web.TCPSite(failing, "127.0.0.1", 0).start()
    slack.remove_request_url(slack.request_urls[0])
    slack.add_request_url(f"http://127.0.0.1:{failing.addresses[0][1]}/slack/events")
    try:
        await slack.user_message(alice, approvals, "hello")
        await slack.wait_for(lambda: len(slack.failures) >= 3 or None)  # the event, then its immediate retry
    finally:
        await failing.cleanup()

    assert [(f.envelope.type, f.outcome, f.reason) for f in slack.failures[:3]] == [
        ("slash_commands", "shown_error", "connection_failed"),
        ("events_api", "retried", "http_error"),
        ("events_api", "retried", "http_error"),
    ]
    assert slack.failures[2].envelope.retry_attempt == 1
    assert '"dispatch_failed"' in slack.ephemerals(alice)[0].text


async def test_requests_take_the_request_urls_in_turn(
    slack: SlackEmulator, serve: Serve, alice: str, approvals: str
) -> None:
    served: dict[str, int] = {}

    def replica(name: str) -> AsyncApp:
        app = bolt(slack)

        async def on_command(ack: AsyncAck) -> None:
            served[name] = served.get(name, 0) + 1
            await ack()

        app.command("/agent-task")(on_command)
        return app

    urls = [await serve(replica("first")), await serve(replica("second"))]
    sent = [await slack.slash_command(alice, "ship it", channel_id=approvals) for _ in range(4)]
    for envelope in sent:
        await slack.wait_ack(envelope)

    assert [e.connection for e in sent] == urls + urls
    assert served == {"first": 2, "second": 2}


async def test_url_verification_forged_and_stale_requests(
    slack: SlackEmulator, serve: Serve, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app = bolt(slack)
    clicks: list[str] = []

    @app.action("approval_approve")
    async def on_click(ack: AsyncAck) -> None:
        await ack()
        clicks.append("clicked")

    url = await serve(app)
    verified, _ = await slack.verify_url(url)
    card = await client.chat_postMessage(channel=approvals, text="Approve?", blocks=BUTTONS)
    payload = slack.build_click(alice, approvals, card["ts"], "approval_approve")
    forged = await slack.send_forged("interactive", payload)
    stale = await slack.send_stale("interactive", payload)
    fresh = await slack.send_signed("interactive", payload)

    assert verified
    assert (forged.status, stale.status, fresh.status) == (401, 401, 200)
    assert clicks == ["clicked"]
    with pytest.raises(SlackApiError):  # Socket Mode is off for an app with Request URLs
        await AsyncWebClient(token=slack.app_token, base_url=slack.api_url).apps_connections_open(
            app_token=slack.app_token
        )
