"""Block Kit limits the emulator enforces where slack-sdk does not, answered as Slack answers them."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator


def plain(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, **extra}


def mrkdwn(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, **extra}


def button(**extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": "go", "text": plain("Go"), **extra}


CONFIRM = {"title": plain("Sure?"), "text": mrkdwn("Really?"), "confirm": plain("Yes"), "deny": plain("No")}
CASES = [
    ([{"type": "section", "text": mrkdwn("x" * 3001)}], "must be less than 3001 characters", "/blocks/0/text/text"),
    ([{"type": "section", "text": mrkdwn("😀" * 1501)}], "must be less than 3001 characters", "/blocks/0/text/text"),
    ([{"type": "header", "text": plain("h" * 151)}], "must be less than 151 characters", "/blocks/0/text/text"),
    ([{"type": "section", "text": mrkdwn("hi", emoji=True)}], "emoji is only allowed on plain_text",
     "/blocks/0/text/emoji"),
    ([{"type": "context", "elements": [mrkdwn("c")] * 11}], "must have 1 to 10 elements", "/blocks/0/elements"),
    ([{"type": "context", "elements": [mrkdwn("c" * 3001)]}], "must be less than 3001", "/blocks/0/elements/0/text"),
    ([{"type": "context", "elements": [button()]}], "must be a text object", "/blocks/0/elements/0"),
    ([{"type": "actions", "elements": [{"type": "image", "image_url": "https://x/y.png", "alt_text": "y"}]}],
     "element type image is not allowed here", "/blocks/0/elements/0/type"),
    ([{"type": "image", "alt_text": "a cat"}], "must provide image_url or slack_file", "/blocks/0"),
    ([{"type": "image", "image_url": "https://x/y.png"}], "must be provided", "/blocks/0/alt_text"),
    ([{"type": "actions", "elements": [button(confirm={**CONFIRM, "title": plain("t" * 101)})]}],
     "must be less than 101 characters", "/blocks/0/elements/0/confirm/title/text"),
    ([{"type": "actions", "elements": [button(confirm={**CONFIRM, "text": mrkdwn("t" * 301)})]}],
     "must be less than 301 characters", "/blocks/0/elements/0/confirm/text/text"),
    ([{"type": "actions", "elements": [button(confirm={**CONFIRM, "deny": plain("d" * 31)})]}],
     "must be less than 31 characters", "/blocks/0/elements/0/confirm/deny/text"),
    ([{"type": "actions", "elements": [button(confirm={**CONFIRM, "style": "loud"})]}],
     "must be one of primary, danger", "/blocks/0/elements/0/confirm/style"),
    ([{"type": "actions", "elements": [button(value="v" * 2001)]}], "must be less than 2001",
     "/blocks/0/elements/0/value"),
    ([{"type": "markdown", "text": "m" * 6001}, {"type": "markdown", "text": "m" * 6000}],
     "markdown blocks must total less than 12001 characters", "/blocks"),
    ([{"type": "divider", "block_id": "b" * 256}], "must be less than 256 characters", "/blocks/0/block_id"),
    ([{"type": "divider", "block_id": "same"}, {"type": "divider", "block_id": "same"}], "duplicate block_id",
     "/blocks/1/block_id"),
    ([{"type": "divider"}] * 51, "no more than 50 items allowed", "/blocks"),
]  # fmt: skip


@pytest.mark.parametrize(("blocks", "problem", "pointer"), CASES)
async def test_invalid_blocks_are_refused_like_slack(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str, blocks: list[Any], problem: str, pointer: str
) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=approvals, text="fallback", blocks=blocks)
    response = raised.value.response
    assert response["error"] == "invalid_blocks"
    messages = response["response_metadata"]["messages"]
    assert any(m.startswith(f"[ERROR] {problem}") and m.endswith(f"[json-pointer:{pointer}]") for m in messages), (
        messages
    )
    assert slack.messages(approvals) == []


async def test_limits_count_utf16_units_and_accept_the_edge(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    edge: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn("😀" * 1500)},  # 3000 UTF-16 units
        {"type": "header", "text": plain("h" * 150, emoji=True)},
        {"type": "context", "elements": [mrkdwn("c")] * 10},
        {"type": "actions", "elements": [button(confirm=CONFIRM)]},
        {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"},
    ]
    await client.chat_postMessage(channel=approvals, text="ok", blocks=edge)
    assert len(slack.messages(approvals)) == 1


async def test_total_block_text_and_message_text_limits(
    slack: SlackEmulator, client: AsyncWebClient, approvals: str
) -> None:
    five = [{"type": "section", "text": mrkdwn("x" * 2700)} for _ in range(5)]  # 13,500 > 13,172
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=approvals, text="long", blocks=five)
    assert raised.value.response["error"] == "msg_blocks_too_long"
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=approvals, text="😀" * 20_001)  # 40,002 UTF-16 units
    assert raised.value.response["error"] == "msg_too_long"
    await client.chat_postMessage(channel=approvals, text="x" * 40_000)
    assert len(slack.messages(approvals)) == 1
