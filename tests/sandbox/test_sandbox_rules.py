"""Slack's rules in the emulator: response_url expiry, scopes, membership, archived channels, rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox import SlackEmulator
from bot.sandbox.ratelimits import METHOD_TIERS, TIERS
from tests.sandbox.support import SANDBOX_SCOPES, Connect, command_app, next_item


async def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        await call
    data = raised.value.response.data
    assert isinstance(data, dict)
    return data


async def command_url(slack: SlackEmulator, connect: Connect, alice: str, approvals: str) -> str:
    app, urls = command_app(slack, "response_url")
    await connect(app)
    await slack.wait_ack(await slack.slash_command(alice, "go", channel_id=approvals))  # before time moves on
    return str(await next_item(urls))


# -- response_url -----------------------------------------------------------------------------------------


async def test_response_url_is_spent_after_five_uses(
    slack: SlackEmulator, connect: Connect, alice: str, approvals: str
) -> None:
    hook = AsyncWebhookClient(await command_url(slack, connect, alice, approvals))
    for i in range(5):
        assert (await hook.send(text=f"update {i}")).status_code == 200
    spent = await hook.send(text="sixth")
    assert (spent.status_code, spent.body) == (404, "used_url")
    assert [e.text for e in slack.ephemerals(alice)] == [f"update {i}" for i in range(5)]


async def test_response_url_expires_after_30_minutes(
    slack: SlackEmulator, connect: Connect, alice: str, approvals: str
) -> None:
    hook = AsyncWebhookClient(await command_url(slack, connect, alice, approvals))
    slack.advance(29 * 60)
    assert (await hook.send(text="still in time")).status_code == 200
    slack.advance(61)
    late = await hook.send(text="too late")
    assert (late.status_code, late.body) == (404, "expired_url")
    assert [e.text for e in slack.ephemerals(alice)] == ["still in time"]


# -- scopes ---------------------------------------------------------------------------------------------


async def test_scopes_are_the_tokens_and_nothing_more(alice: str) -> None:
    async with SlackEmulator(scopes={"chat:write", "channels:read"}) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        auth = await client.auth_test()
        assert auth.headers["x-oauth-scopes"] == "channels:read,chat:write"

        answer = await error_of(client.users_info(user=slack.add_user("bob")))
        assert answer == {
            "ok": False,
            "error": "missing_scope",
            "needed": "users:read",
            "provided": "channels:read,chat:write",
        }
        private = slack.add_channel("secret", private=True, members=[slack.bot_user_id])
        assert (await error_of(client.conversations_info(channel=private)))["needed"] == "groups:read"
        assert (await client.conversations_info(channel=slack.general))["channel"]["id"] == slack.general
        listed = await error_of(client.conversations_list(types="public_channel,private_channel"))
        assert listed["needed"] == "groups:read"
        assert (await error_of(client.conversations_join(channel=slack.general)))["needed"] == "channels:join"
        assert (await error_of(client.conversations_open(users=slack.add_user("carol"))))["needed"] == "im:write"
        assert (await error_of(client.conversations_history(channel=private)))["needed"] == "groups:history"


async def test_default_scopes_are_strict() -> None:
    async with SlackEmulator() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        assert (await client.auth_test()).headers["x-oauth-scopes"] == "chat:write"
        assert (await error_of(client.conversations_list()))["needed"] == "channels:read"
        with pytest.raises(PermissionError, match="commands"):
            await slack.slash_command(slack.add_user("alice"), "hi")


# -- membership and archived channels -------------------------------------------------------------------


async def test_membership_rules(slack: SlackEmulator, client: AsyncWebClient, approvals: str, alice: str) -> None:
    bob = slack.add_user("bob")
    secret = slack.add_channel("secret", private=True, members=[alice])

    assert (await error_of(client.chat_postMessage(channel=slack.general, text="x")))["error"] == "not_in_channel"
    assert (await error_of(client.chat_postMessage(channel=secret, text="x")))["error"] == "channel_not_found"
    assert (await error_of(client.conversations_info(channel=secret)))["error"] == "channel_not_found"
    ephemeral = client.chat_postEphemeral(channel=slack.general, user=alice, text="x")
    assert (await error_of(ephemeral))["error"] == "not_in_channel"  # a command typed in #general is not enough
    ephemeral = client.chat_postEphemeral(channel=approvals, user=bob, text="x")
    assert (await error_of(ephemeral))["error"] == "user_not_in_channel"
    assert (await error_of(client.conversations_history(channel=slack.general)))["error"] == "not_in_channel"
    assert slack.messages(slack.general) == [] and slack.ephemerals(bob) == []


async def test_chat_write_public_posts_without_joining(alice: str) -> None:
    async with SlackEmulator(scopes={"chat:write", "chat:write.public"}) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        await client.chat_postMessage(channel=slack.general, text="hello")
        assert [m.text for m in slack.messages(slack.general)] == ["hello"]
        user = slack.add_user("dana")
        ephemeral = client.chat_postEphemeral(channel=slack.general, user=user, text="x")
        assert (await error_of(ephemeral))["error"] == "not_in_channel"


async def test_archived_channel_refuses_everything(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    posted = await client.chat_postMessage(channel=approvals, text="before")
    slack.archive(approvals)

    assert (await client.conversations_info(channel=approvals))["channel"]["is_archived"] is True
    assert (await error_of(client.chat_postMessage(channel=approvals, text="x")))["error"] == "is_archived"
    update = client.chat_update(channel=approvals, ts=posted["ts"], text="x")
    assert (await error_of(update))["error"] == "is_archived"
    assert (await error_of(client.conversations_join(channel=approvals)))["error"] == "is_archived"
    assert [m.text for m in slack.messages(approvals)] == ["before"]


# -- rate limits ----------------------------------------------------------------------------------------


async def test_post_message_bursts_then_one_per_second_per_channel(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    other = slack.add_channel("other", members=[slack.bot_user_id])
    burst = TIERS["post_per_channel"].burst
    for i in range(burst):
        await client.chat_postMessage(channel=approvals, text=f"card {i}")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="#approvals", text="one too many")  # a name shares the ID's bucket
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["retry-after"] == "1"
    await client.chat_postMessage(channel=other, text="another channel has its own bucket")

    slack.advance(1)
    await client.chat_postMessage(channel=approvals, text="a second later")
    assert [m.text for m in slack.messages(approvals)] == [f"card {i}" for i in range(burst)] + ["a second later"]


async def test_rate_limits_are_on_by_default_and_lifted_only_when_asked() -> None:
    async def posts_before_a_429(**options: Any) -> int:
        async with SlackEmulator(scopes=SANDBOX_SCOPES, **options) as emulator:
            channel = emulator.add_channel("burst", members=[emulator.bot_user_id])
            client = AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)
            for n in range(10):
                try:
                    await client.chat_postMessage(channel=channel, text=f"{n}")
                except SlackApiError as exc:
                    assert exc.response["error"] == "ratelimited"
                    return n
            return 10

    burst = TIERS["post_per_channel"].burst
    assert (await posts_before_a_429(), await posts_before_a_429(rate_limits=False)) == (burst, 10)


async def test_other_methods_by_tier(slack: SlackEmulator, client: AsyncWebClient, approvals: str) -> None:
    assert METHOD_TIERS["chat.update"] == "tier3" and TIERS["tier3"].per_minute == 50
    posted = await client.chat_postMessage(channel=approvals, text="card")
    for i in range(50):
        await client.chat_update(channel=approvals, ts=posted["ts"], text=f"edit {i}")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel=approvals, ts=posted["ts"], text="edit 50")
    assert raised.value.response.status_code == 429
    assert int(raised.value.response.headers["retry-after"]) == 2  # 50 a minute: one every 1.2 s
    slack.advance(2)
    await client.chat_update(channel=approvals, ts=posted["ts"], text="edit 50")
    message = slack.message(approvals, posted["ts"])
    assert message is not None and message.text == "edit 50"


async def test_connections_open_allows_ten_at_start_then_tier_1(slack: SlackEmulator) -> None:
    apps = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    for _ in range(10):
        await apps.apps_connections_open(app_token=slack.app_token)
    with pytest.raises(SlackApiError) as raised:
        await apps.apps_connections_open(app_token=slack.app_token)
    assert raised.value.response.status_code == 429
    slack.advance(60)
    assert (await apps.apps_connections_open(app_token=slack.app_token))["ok"]


async def test_injected_faults_still_come_first(slack: SlackEmulator, client: AsyncWebClient, approvals: str) -> None:
    slack.fail_next("chat.postMessage", status=200, error="fatal_error")
    assert (await error_of(client.chat_postMessage(channel=approvals, text="x")))["error"] == "fatal_error"
    await client.chat_postMessage(channel=approvals, text="y")
    assert [m.text for m in slack.messages(approvals)] == ["y"]
