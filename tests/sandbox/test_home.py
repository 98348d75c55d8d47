"""App Home in the emulator: views.publish rules, app_home_opened and clicks in a Home view as a real Bolt app
receives them, and what observers see."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from bot.sandbox.records import Activity
from tests.sandbox.support import BUTTONS, Connect, new_app, next_item


def home(**extra: Any) -> dict[str, Any]:
    """A Home view with one approval's buttons (BUTTONS) and a second entry sharing the action ids."""
    other = copy.deepcopy(BUTTONS[1])
    other["block_id"] = "approval_actions_2"
    for element in other["elements"]:
        element["value"] = "apr_9d01"
    view: dict[str, Any] = {"type": "home", "callback_id": "home", "blocks": [*copy.deepcopy(BUTTONS), other]}
    view.update(extra)
    return view


async def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        await call
    data = raised.value.response.data
    assert isinstance(data, dict)
    return data


def section(i: int) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"entry {i}"}}


# -- views.publish --------------------------------------------------------------------------------------


async def test_publish_returns_and_keeps_the_view_as_slack_stores_it(
    slack: SlackEmulator, client: AsyncWebClient, alice: str
) -> None:
    seen: list[Activity] = []
    slack.on_activity(seen.append)
    assert slack.home_view(alice) is None

    first = (await client.views_publish(user_id=alice, view=home(private_metadata="m")))["view"]
    assert (first["type"], first["callback_id"], first["private_metadata"], first["state"]) == (
        "home",
        "home",
        "m",
        {"values": {}},
    )
    assert first["close"] is None and first["submit"] is None and first["previous_view_id"] is None
    assert first["root_view_id"] == first["id"] and first["id"].startswith("V") and first["hash"]
    assert (first["app_id"], first["bot_id"], first["team_id"]) == (slack.app_id, slack.bot_id, slack.team_id)
    assert all(block.get("block_id") for block in first["blocks"])  # generated where the app gave none
    assert slack.home_view(alice) == first

    second = (await client.views_publish(user_id=alice, view=home(), hash=first["hash"]))["view"]
    assert second["id"] == first["id"] and second["hash"] != first["hash"]  # one Home per person, a new hash
    assert [(a.kind, a.source, a.to_user, a.ts) for a in seen] == [
        ("home", "views.publish", alice, first["hash"]),
        ("home", "views.publish", alice, second["hash"]),
    ]
    assert seen[-1].blocks == second["blocks"]


async def test_a_stale_hash_is_a_conflict_and_changes_nothing(
    slack: SlackEmulator, client: AsyncWebClient, alice: str
) -> None:
    never = await error_of(client.views_publish(user_id=alice, view=home(), hash="1700000000.AbCdEfGh"))
    assert never["error"] == "hash_conflict" and slack.home_view(alice) is None  # nothing stored to match

    first = (await client.views_publish(user_id=alice, view=home()))["view"]
    await client.views_publish(user_id=alice, view=home(callback_id="newer"))
    stale = await error_of(client.views_publish(user_id=alice, view=home(callback_id="stale"), hash=first["hash"]))
    assert stale["error"] == "hash_conflict"
    view = slack.home_view(alice)
    assert view is not None and view["callback_id"] == "newer"


async def test_unknown_users_and_invalid_views_are_refused(
    slack: SlackEmulator, client: AsyncWebClient, alice: str
) -> None:
    for user in ("U0NOBODY99", "", slack.bot_user_id):
        refused = await error_of(client.views_publish(user_id=user, view=home()))
        assert refused["error"] == "invalid_arguments"
        assert refused["response_metadata"]["messages"] == ["invalid `user_id`"]

    cases: list[tuple[dict[str, Any], str]] = [
        ({"blocks": [section(0)]}, "[ERROR] missing required field: type [json-pointer:/view]"),
        ({"type": "home"}, "[ERROR] missing required field: blocks [json-pointer:/view]"),
        (home(type="modal"), "[ERROR] must be one of: home [json-pointer:/view/type]"),
        (home(blocks=[]), "[ERROR] must provide at least 1 items [json-pointer:/view/blocks]"),
        (home(submit={"type": "plain_text", "text": "Go"}), "[ERROR] submit is not allowed in a home view"),
        (home(private_metadata="x" * 3001), "[ERROR] must be less than 3001 characters"),
        (home(callback_id="x" * 256), "[ERROR] must be less than 256 characters"),
        (home(blocks=[section(i) for i in range(101)]), "/view/blocks"),
        (home(blocks=[{"type": "file", "external_id": "F1", "source": "remote"}]), "/view/blocks/0"),
    ]
    for view, message in cases:
        refused = await error_of(client.views_publish(user_id=alice, view=view))
        assert refused["error"] == "invalid_arguments", view
        assert any(message in m for m in refused["response_metadata"]["messages"]), refused
    assert slack.home_view(alice) is None

    too_large = home(blocks=[section(0)], private_metadata="", callback_id="c", big="x" * 260_000)
    assert (await error_of(client.views_publish(user_id=alice, view=too_large)))["error"] == "view_too_large"
    no_view = await error_of(client.api_call("views.publish", json={"user_id": alice}))
    assert no_view["error"] == "invalid_arguments"

    edge = home(blocks=[section(i) for i in range(100)], private_metadata="x" * 3000, callback_id="c" * 255)
    assert (await client.views_publish(user_id=alice, view=edge))["ok"]


async def test_external_ids_are_unique_per_team_and_the_tab_can_be_off(
    slack: SlackEmulator, client: AsyncWebClient, alice: str
) -> None:
    bob = slack.add_user("bob")
    await client.views_publish(user_id=alice, view=home(external_id="home-1"))
    await client.views_publish(user_id=alice, view=home(external_id="home-1"))  # her own Home keeps it
    taken = await error_of(client.views_publish(user_id=bob, view=home(external_id="home-1")))
    assert taken["error"] == "duplicate_external_id" and slack.home_view(bob) is None

    async with SlackEmulator(scopes=slack.scopes, home_tab=False) as off:
        carol = off.add_user("carol")
        off_client = AsyncWebClient(token=off.bot_token, base_url=off.api_url)
        assert (await error_of(off_client.views_publish(user_id=carol, view=home())))["error"] == "not_enabled"


async def test_publish_needs_no_scope(alice: str) -> None:
    async with SlackEmulator() as bare:  # chat:write only
        dora = bare.add_user("dora")
        client = AsyncWebClient(token=bare.bot_token, base_url=bare.api_url)
        assert (await client.views_publish(user_id=dora, view=home()))["ok"]
        assert bare.calls_to("views.publish")[0].response["ok"] is True


# -- app_home_opened and clicks, through a real Bolt app ---------------------------------------------------


async def test_app_home_opened_carries_the_view_once_one_was_published(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, connect: Connect
) -> None:
    app = new_app(slack)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.event("app_home_opened")
    async def on_opened(event: dict[str, Any]) -> None:
        await events.put(event)

    await connect(app)
    await slack.wait_connections(1)

    await slack.open_app_home(alice)
    first = await next_item(events)
    assert (first["type"], first["user"], first["tab"]) == ("app_home_opened", alice, "home")
    assert "view" not in first and first["channel"] == slack.dm_with(alice) and first["event_ts"]

    published = (await client.views_publish(user_id=alice, view=home()))["view"]
    await slack.open_app_home(alice)
    again = await next_item(events)
    assert again["view"] == published

    await slack.open_app_home(alice, tab="messages")
    messages = await next_item(events)
    assert messages["tab"] == "messages" and "view" not in messages  # the view comes with the Home tab only
    with pytest.raises(ValueError):
        await slack.open_app_home(alice, tab="about")


async def test_a_click_in_home_comes_from_the_view_with_no_channel_and_a_usable_trigger(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, connect: Connect
) -> None:
    app = new_app(slack)
    clicks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.action("approval_approve")
    async def on_approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await clicks.put({"body": body, "respond": respond})

    await connect(app)
    await slack.wait_connections(1)
    view = (await client.views_publish(user_id=alice, view=home(private_metadata="pm")))["view"]

    envelope = await slack.click_home(alice, "approval_approve", "apr_9d01")
    got = await next_item(clicks)
    body = got["body"]
    assert body == envelope.payload
    assert body["container"] == {"type": "view", "view_id": view["id"]}
    assert body["view"] == view and body["view"]["private_metadata"] == "pm"
    assert not {"channel", "message", "response_url", "state"} & body.keys()  # Home has no conversation
    assert got["respond"].response_url is None  # so Bolt's respond() has nowhere to answer
    action = body["actions"][0]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "approval_approve",
        "apr_9d01",
        "approval_actions_2",
    )
    record = slack.trigger(body["trigger_id"])
    assert record is not None and (record.user, record.source) == (alice, "block_actions")

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Why?"}, "blocks": [section(0)]}
    assert (await client.views_open(trigger_id=body["trigger_id"], view=modal))["ok"]
    assert (await error_of(client.views_open(trigger_id=body["trigger_id"], view=modal)))["error"] == (
        "exchanged_trigger_id"
    )

    await slack.click_home(alice, "approval_approve", block_id="approval_actions")
    first_entry = (await next_item(clicks))["body"]["actions"][0]
    assert (first_entry["block_id"], first_entry["value"]) == ("approval_actions", "apr_7f3c")


async def test_nobody_clicks_what_their_home_does_not_show(
    slack: SlackEmulator, client: AsyncWebClient, alice: str
) -> None:
    bob = slack.add_user("bob")
    with pytest.raises(LookupError):
        await slack.click_home(bob, "approval_approve")  # nothing published for bob
    await client.views_publish(user_id=alice, view=home())
    with pytest.raises(LookupError):
        await slack.click_home(alice, "approval_revise")
    with pytest.raises(LookupError):
        await slack.click_home(alice, "approval_approve", block_id="summary")
    assert slack.envelopes == []
