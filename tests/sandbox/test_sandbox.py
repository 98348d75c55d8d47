"""The Slack emulator, driven by the real slack-sdk and slack-bolt clients (nothing mocked)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox import Activity, Envelope, SlackEmulator
from tests.sandbox.support import BUTTONS, TS, Connect, command_app, new_app, next_item

# -- Web API -------------------------------------------------------------------------------------------


async def test_auth_test_answers_like_slack(slack: SlackEmulator, client: AsyncWebClient) -> None:
    response = await client.auth_test()

    assert response["user_id"] == "U0BOT00001"
    assert response["bot_id"] == "B0BOT00001"
    assert response["team_id"] == "T0SANDBOX1"
    assert response["url"] == slack.url + "/"
    assert response["is_enterprise_install"] is False
    assert "chat:write" in response.headers["x-oauth-scopes"]
    assert slack.api_url == slack.url + "/api/"


async def test_post_message_by_name_returns_the_id_and_fresh_ts(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    first = await client.chat_postMessage(channel="#approvals", text="one", blocks=BUTTONS)
    second = await client.chat_postMessage(channel="approvals", text="two")
    reply = await client.chat_postMessage(channel=approvals, text="in thread", thread_ts=first["ts"])

    assert first["channel"] == second["channel"] == approvals
    assert TS.match(first["ts"]) and TS.match(second["ts"])
    assert first["ts"] < second["ts"] < reply["ts"]
    assert first["message"]["blocks"] == BUTTONS
    assert first["message"]["bot_id"] == slack.bot_id
    assert [m.text for m in slack.messages(approvals)] == ["one", "two"]
    assert [m.text for m in slack.thread(approvals, first["ts"])] == ["in thread"]
    stored = slack.message(approvals, first["ts"])
    assert stored is not None and stored.user == slack.bot_user_id and stored.app_id == slack.app_id


async def test_missing_block_ids_are_generated(client: AsyncWebClient, approvals: str) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    response = await client.chat_postMessage(channel=approvals, text="hi", blocks=blocks)
    assert response["message"]["blocks"][0]["block_id"]


async def test_update_keeps_blocks_unless_given(slack: SlackEmulator, client: AsyncWebClient, approvals: str) -> None:
    posted = await client.chat_postMessage(channel=approvals, text="Approve?", blocks=BUTTONS)

    kept = await client.chat_update(channel=approvals, ts=posted["ts"], text="Still pending")
    assert kept["message"]["blocks"] == BUTTONS and kept["text"] == "Still pending"

    removed = await client.chat_update(channel=approvals, ts=posted["ts"], text="Approved", blocks=[])
    assert "blocks" not in removed["message"]
    assert removed["ts"] == posted["ts"] and removed["channel"] == approvals
    current = slack.message(approvals, posted["ts"])
    assert current is not None and current.text == "Approved" and current.blocks == []
    assert current.edited_ts is not None


async def test_post_ephemeral_is_stored_for_the_user(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str, alice: str
) -> None:
    response = await client.chat_postEphemeral(channel=approvals, user=alice, text="Only you can see this")

    assert TS.match(response["message_ts"])
    [ephemeral] = slack.ephemerals(alice)
    assert ephemeral.text == "Only you can see this" and ephemeral.visible_to == alice
    assert slack.messages(approvals) == []


@pytest.mark.parametrize(
    ("method", "kwargs", "error"),
    [
        ("chat_postMessage", {"channel": "#nowhere", "text": "x"}, "channel_not_found"),
        ("chat_postMessage", {"channel": "#secret", "text": "x"}, "channel_not_found"),  # private, bot not in it
        ("chat_postMessage", {"channel": "#general", "text": "x"}, "not_in_channel"),  # public, bot not in it
        ("chat_postMessage", {"channel": "#approvals", "text": "x", "thread_ts": "1.000001"}, "thread_not_found"),
        (
            "chat_postMessage",
            {"channel": "#approvals", "text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn"}}]},
            "invalid_blocks",
        ),
        ("chat_update", {"channel": "#general", "ts": "1.000001", "text": "x"}, "channel_not_found"),
        ("chat_postEphemeral", {"channel": "#general", "user": "U0NOBODY00", "text": "x"}, "user_not_found"),
        ("conversations_join", {"channel": "#secret"}, "channel_not_found"),
        ("users_info", {"user": "U0NOBODY00"}, "user_not_found"),
    ],
)
async def test_api_errors(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str, method: str, kwargs: dict[str, Any], error: str
) -> None:
    slack.add_channel("secret", private=True)
    with pytest.raises(SlackApiError) as raised:
        await getattr(client, method)(**kwargs)
    assert raised.value.response["error"] == error
    assert raised.value.response.status_code == 200
    assert slack.calls[-1].error == error


async def test_errors_that_need_state(slack: SlackEmulator, client: AsyncWebClient, approvals: str, alice: str) -> None:
    bob = slack.add_user("bob")
    secret = slack.add_channel("secret", private=True, members=[slack.bot_user_id, alice])
    slack.add_channel("random", members=[alice])
    human = await slack.user_message(alice, slack.general, "hello")
    slack.join(slack.general)  # the bot may edit only in channels it is in; a person's message never

    async def error_of(call: Awaitable[Any]) -> str:
        with pytest.raises(SlackApiError) as raised:
            await call
        return str(raised.value.response["error"])

    assert await error_of(client.chat_update(channel=approvals, ts="1.000001", text="x")) == "message_not_found"
    assert await error_of(client.chat_update(channel=slack.general, ts=human.ts, text="x")) == "cant_update_message"
    assert await error_of(client.chat_postEphemeral(channel=secret, user=bob, text="x")) == "user_not_in_channel"
    assert await error_of(client.chat_postEphemeral(channel=slack.channel_id("random"), user=alice, text="x")) == (
        "not_in_channel"  # the bot is not in #random, even if alice is
    )
    assert await error_of(client.conversations_join(channel=secret)) == "method_not_supported_for_channel_type"
    assert await error_of(client.api_call("chat.frobnicate")) == "unknown_method"
    # (client.chat_postMessage without text would warn; api_call sends the bare request)
    assert await error_of(client.api_call("chat.postMessage", json={"channel": approvals})) == "no_text"


async def test_tokens_are_checked(slack: SlackEmulator) -> None:
    cases = [
        (AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url), "invalid_auth"),
        (AsyncWebClient(base_url=slack.api_url), "not_authed"),
        (AsyncWebClient(token=slack.app_token, base_url=slack.api_url), "not_allowed_token_type"),
    ]
    for wrong, error in cases:
        with pytest.raises(SlackApiError) as raised:
            await wrong.auth_test()
        assert raised.value.response["error"] == error

    bot = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as raised:
        await bot.apps_connections_open(app_token=slack.bot_token)
    assert raised.value.response["error"] == "not_allowed_token_type"
    opened = [(await bot.apps_connections_open(app_token=slack.app_token))["url"] for _ in range(2)]
    assert opened[0] != opened[1]
    assert all(url.startswith(f"ws://127.0.0.1:{slack.url.rsplit(':', 1)[1]}/link/?ticket=") for url in opened)


async def test_rate_limit_then_retry_handler_succeeds(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    slack.fail_next("chat.postMessage", retry_after=3)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=approvals, text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["retry-after"] == "3"

    slack.fail_next("chat.postMessage", retry_after=0)
    retrying = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    response = await retrying.chat_postMessage(channel=approvals, text="second try")
    assert response["ok"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]


async def test_injected_server_error_and_api_error(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    slack.fail_next("chat.update", status=500, error="internal_error")
    slack.fail_next("chat.update", status=200, error="edit_window_closed")
    for status, error in [(500, "internal_error"), (200, "edit_window_closed")]:
        with pytest.raises(SlackApiError) as raised:
            await client.chat_update(channel=approvals, ts="1.000001", text="x")
        assert (raised.value.response.status_code, raised.value.response["error"]) == (status, error)


async def test_conversations_and_users(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str, alice: str, connect: Connect
) -> None:
    await connect(new_app(slack))  # hears alice's reply in #random
    slack.add_channel("secret", private=True)
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert {c["name"] for c in listed["channels"]} == {"general", "approvals"}  # not #secret
    assert listed["response_metadata"]["next_cursor"] == ""
    paged = await client.conversations_list(limit=1)
    assert len(paged["channels"]) == 1 and paged["response_metadata"]["next_cursor"]

    info = await client.conversations_info(channel=slack.general)
    assert info["channel"]["is_member"] is False
    await client.conversations_join(channel=slack.general)
    assert (await client.conversations_info(channel=slack.general))["channel"]["is_member"] is True
    members = await client.conversations_members(channel=approvals)
    assert set(members["members"]) == {slack.bot_user_id, alice}

    random = slack.add_channel("random", members=[slack.bot_user_id])  # no app connected to hear the reply
    parent = await client.chat_postMessage(channel=random, text="parent")
    await slack.user_message(alice, random, "reply", thread_ts=parent["ts"])
    replies = await client.conversations_replies(channel=random, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply"]
    assert replies["messages"][0]["reply_count"] == 1
    history = await client.conversations_history(channel=random)
    assert [m["text"] for m in history["messages"]] == ["parent"]

    user = await client.users_info(user=alice)
    assert user["user"]["name"] == "alice" and user["user"]["is_bot"] is False


async def test_wait_helpers(slack: SlackEmulator, client: AsyncWebClient, approvals: str) -> None:
    mark = slack.mark()
    await client.chat_postMessage(channel=approvals, text="first")
    call = await slack.next_call("chat.postMessage", since=mark)
    assert call.params["text"] == "first" and call.response["ok"]

    waiting = asyncio.create_task(slack.next_call("chat.postMessage", where=lambda c: c.params["text"] == "b"))
    await client.chat_postMessage(channel=approvals, text="a")
    await client.chat_postMessage(channel=approvals, text="b")
    assert (await waiting).params["text"] == "b"

    with pytest.raises(TimeoutError, match=r"chat\.update.*\n.*chat\.postMessage"):
        await slack.next_call("chat.update", timeout=0.05)


async def test_activities_are_reported(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str, alice: str, connect: Connect
) -> None:
    await connect(new_app(slack))
    seen: list[Activity] = []
    stop = slack.on_activity(seen.append)
    general = slack.general
    slack.join(general)
    posted = await client.chat_postMessage(channel=general, text="Approve?", blocks=BUTTONS)
    await client.chat_update(channel=general, ts=posted["ts"], text="Approved", blocks=[])
    await client.chat_postEphemeral(channel=general, user=alice, text="psst")
    await slack.user_message(alice, general, "thanks", thread_ts=posted["ts"])
    stop()
    await client.chat_postMessage(channel=general, text="unseen")

    assert [(a.kind, a.source, a.text) for a in seen] == [
        ("message", "chat.postMessage", "Approve?"),
        ("update", "chat.update", "Approved"),
        ("ephemeral", "chat.postEphemeral", "psst"),
        ("message", "user", "thanks"),
    ]
    assert seen[0].channel_name == "general" and seen[0].user_name == "approval-bot"
    assert seen[2].to_user == alice and seen[3].thread_ts == posted["ts"]


async def test_build_click_uses_the_current_message(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str, alice: str
) -> None:
    posted = await client.chat_postMessage(channel=approvals, text="Approve?", blocks=BUTTONS)
    payload = slack.build_click(alice, approvals, posted["ts"], "approval_cancel", value="other")

    assert payload["type"] == "block_actions" and payload["user"]["id"] == alice
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": approvals,
        "is_ephemeral": False,
    }
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "approval_cancel",
        "approval_actions",
        "other",
    )
    assert payload["response_url"].startswith(slack.url + "/response/")

    await client.chat_update(channel=approvals, ts=posted["ts"], text="Cancelled", blocks=[])
    with pytest.raises(LookupError, match="approval_cancel"):
        slack.build_click(alice, approvals, posted["ts"], "approval_cancel")


# -- Socket Mode with the raw aiohttp client ------------------------------------------------------------


async def test_tickets_are_single_use_and_pings_are_answered(slack: SlackEmulator) -> None:
    apps = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    url = (await apps.apps_connections_open(app_token=slack.app_token))["url"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, autoping=False) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": slack.app_id}
            await ws.ping(b"sdk-ping-pong:123")
            pong = await ws.receive(timeout=5)
            assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"sdk-ping-pong:123")
            assert slack.connections == ["conn-1"]

            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url)
            assert refused.value.status == 401

            envelope = await slack.send_interactive({"type": "block_actions", "actions": []})
            frame = await ws.receive_json(timeout=5)
            assert frame == envelope.frame() and envelope.connection == "conn-1"
            await ws.send_json({"envelope_id": envelope.envelope_id})
            assert await slack.wait_ack(envelope) == {"envelope_id": envelope.envelope_id}
        await slack.wait_for(lambda: not slack.connections)


# -- Socket Mode with slack-bolt ------------------------------------------------------------------------


async def test_slash_command_reaches_listener_and_ack_becomes_ephemeral(
    slack: SlackEmulator, connect: Connect, alice: str, approvals: str
) -> None:
    app = new_app(slack)
    commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.command("/agent-task")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack("Working on it")
        await commands.put(command)

    await connect(app)
    envelope = await slack.slash_command(alice, "draft: release notes", channel_id=approvals)

    ack = await slack.wait_ack(envelope)
    assert ack["payload"] == {"text": "Working on it"}
    command = await next_item(commands)
    assert command["text"] == "draft: release notes" and command["user_id"] == alice
    assert command["channel_id"] == approvals
    assert command["response_url"].startswith(slack.url + "/response/")
    assert [(e.text, e.visible_to) for e in slack.ephemerals(alice)] == [("Working on it", alice)]
    assert [c.method for c in slack.calls] == ["apps.connections.open", "auth.test"]


async def test_click_reaches_action_listener_and_respond_replaces(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app = new_app(slack)
    clicks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.action("approval_approve")
    async def on_approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text=f"Approved by <@{body['user']['id']}>")
        await clicks.put(body)

    await connect(app)
    posted = await client.chat_postMessage(channel=approvals, text="Approve?", blocks=BUTTONS)
    envelope = await slack.click(alice, approvals, posted["ts"], "approval_approve")

    assert await slack.wait_ack(envelope) == {"envelope_id": envelope.envelope_id}
    body = await next_item(clicks)
    assert body["actions"][0]["value"] == "apr_7f3c"
    assert body["actions"][0]["block_id"] == "approval_actions"
    assert body["container"]["message_ts"] == posted["ts"]
    assert body["message"]["blocks"] == BUTTONS
    message = await slack.wait_for(lambda: slack.message(approvals, posted["ts"]))
    assert message.text == f"Approved by <@{alice}>" and message.blocks == []
    assert slack.calls_to("response_url")[0].params["replace_original"] is True


async def test_response_url_ephemeral_and_in_channel(
    slack: SlackEmulator, connect: Connect, alice: str, approvals: str
) -> None:
    app, urls = command_app(slack, "response_url")
    await connect(app)
    await slack.slash_command(alice, "", channel_id=approvals)
    hook = AsyncWebhookClient(await next_item(urls))
    assert (await hook.send(text="just for you")).body == "ok"
    assert (await hook.send(text="for everyone", response_type="in_channel")).status_code == 200

    assert [e.text for e in slack.ephemerals(alice)] == ["just for you"]
    assert [m.text for m in slack.messages(approvals)] == ["for everyone"]
    assert (await AsyncWebhookClient(slack.url + "/response/nope").send(text="x")).status_code == 404


async def test_thread_reply_reaches_message_listener(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app = new_app(slack)
    events: asyncio.Queue[tuple[dict[str, Any], Any]] = asyncio.Queue()

    @app.event("message")
    async def on_message(event: dict[str, Any], request: Any) -> None:
        await events.put((event, request.headers.get("x-slack-retry-num")))

    await connect(app)
    parent = await client.chat_postMessage(channel=approvals, text="Approve?", blocks=BUTTONS)
    reply = await slack.user_message(alice, approvals, "Shorter please", thread_ts=parent["ts"])

    event, retry = await next_item(events)  # the bot's own echo is dropped by Bolt, not delivered here
    assert (event["text"], event["thread_ts"], event["ts"]) == ("Shorter please", parent["ts"], reply.ts)
    assert event["channel_type"] == "channel" and event["user"] == alice and retry == ["0"]

    echo = slack.event_envelope(parent["ts"])
    assert echo is not None and echo.payload["event"]["bot_id"] == slack.bot_id
    await slack.wait_ack(echo)  # Bolt acks the events it ignores as its own

    first = slack.event_envelope(reply.ts)
    assert first is not None
    retried = await slack.redeliver(first)
    assert retried.retry_attempt == 1 and retried.retry_reason == "timeout"
    assert retried.payload["event_id"] == first.payload["event_id"]
    assert retried.envelope_id != first.envelope_id
    event, retry = await next_item(events)
    assert event["ts"] == reply.ts and retry == ["1"]


async def test_no_event_when_the_bot_is_not_in_the_channel(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str
) -> None:
    await connect(new_app(slack))
    random = slack.add_channel("random", members=[slack.bot_user_id, alice])
    posted = await client.chat_postMessage(channel=random, text="hello")
    slack.leave(random)  # the bot is removed from the channel
    await slack.user_message(alice, random, "hi", thread_ts=posted["ts"])
    assert [e.payload["event"]["text"] for e in slack.envelopes] == ["hello"]  # only the echo of its own post


async def reconnect_and_deliver(slack: SlackEmulator, alice: str, old: str, commands: asyncio.Queue[str]) -> None:
    await slack.wait_for(lambda: slack.connections and old not in slack.connections)
    assert len(slack.calls_to("apps.connections.open")) == 2
    envelope = await slack.slash_command(alice, "after reconnect")
    assert envelope.connection != old
    await slack.wait_ack(envelope)
    assert await next_item(commands) == "after reconnect"


async def test_disconnect_message_leads_to_reconnect(slack: SlackEmulator, connect: Connect, alice: str) -> None:
    app, commands = command_app(slack)
    await connect(app)
    [old] = await slack.wait_connections(1)

    await slack.disconnect(old, reason="refresh_requested")
    await reconnect_and_deliver(slack, alice, old, commands)


@pytest.mark.parametrize("abrupt", [False, True], ids=["ws-close", "tcp-abort"])
async def test_dropped_socket_leads_to_reconnect(
    slack: SlackEmulator, connect: Connect, alice: str, abrupt: bool
) -> None:
    app, commands = command_app(slack)
    # after a TCP abort the client only notices on its next ping: keep that interval short
    await connect(app, ping_interval=0.5 if abrupt else 10)
    [old] = await slack.wait_connections(1)

    await slack.drop(old, abrupt=abrupt)
    await reconnect_and_deliver(slack, alice, old, commands)


async def test_two_connections_each_receive_envelopes(slack: SlackEmulator, connect: Connect, alice: str) -> None:
    replicas = [command_app(slack) for _ in range(2)]
    for app, _ in replicas:
        await connect(app)
    first, second = await slack.wait_connections(2)

    sent = [
        await slack.slash_command(alice, "to first", connection=first),
        await slack.slash_command(alice, "to second", connection=second),
    ]
    for envelope in sent:
        await slack.wait_ack(envelope)
    assert await next_item(replicas[0][1]) == "to first"
    assert await next_item(replicas[1][1]) == "to second"

    spread = [await slack.slash_command(alice, f"any {i}") for i in range(2)]
    assert {e.connection for e in spread} == {first, second}


async def test_garbage_does_not_break_the_client(slack: SlackEmulator, connect: Connect, alice: str) -> None:
    app, commands = command_app(slack)
    await connect(app)

    assert await slack.send_raw("this is not json") == "conn-1"
    await slack.send_raw('{"type": "nonsense"}')
    unknown: Envelope = await slack.send_interactive({"type": "shortcut", "callback_id": "nobody_listens"})
    with pytest.raises(TimeoutError, match="ack of interactive"):
        await slack.wait_ack(unknown, timeout=0.5)  # Bolt sends no ack when no listener matches

    await slack.wait_ack(await slack.slash_command(alice, "still alive"))
    assert await next_item(commands) == "still alive"
