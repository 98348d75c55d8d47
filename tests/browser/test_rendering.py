"""How the sandbox page draws what an app posts: Block Kit (header, section with fields and a button accessory,
context, divider, actions with styles and a confirm dialog, rich_text) and mrkdwn (styles, code, quotes, links,
mentions, dates, entities), the way Slack's client shows them."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.async_api import Locator, expect
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from tests.browser.sandbox_page import TIMEOUT_MS, SandboxPage
from tests.e2e.conftest import People

WHEN = 1_700_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture
async def posted(sandbox: SandboxPage, slack: SlackEmulator, people: People) -> Locator:
    """One message with every part the page draws, posted by the app in #approvals, seen by alice."""
    group = slack.add_usergroup("oncall", [people.bob])
    slack.join(people.approvals)
    mrkdwn = (
        f"*bold* _italic_ ~struck~ `a <b>code</b>` <@{people.bob}> <#{people.approvals}> <!subteam^{group}> <!here> "
        f"<https://example.com/page|the page> <!date^{WHEN}^{{date_num}} {{time}}|a fallback> &lt;not a tag&gt; &amp;\n"
        "```\nline one\n*not bold*\n```\n> a quote\nbare https://example.org/a?b=1&amp;c=2."
    )
    confirm = {
        "title": {"type": "plain_text", "text": "Cancel the request?"},
        "text": {"type": "mrkdwn", "text": "The agent is *stopped*."},
        "confirm": {"type": "plain_text", "text": "Cancel request"},
        "deny": {"type": "plain_text", "text": "Keep it"},
        "style": "danger",
    }
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": "Details"}, "action_id": "more"}
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "A header"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn},
            "fields": [
                {"type": "mrkdwn", "text": "*Field one*"},
                {"type": "plain_text", "text": "*not mrkdwn*"},
                {"type": "mrkdwn", "text": "verbatim https://example.net", "verbatim": True},
            ],
            "accessory": button,
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "context _note_"}]},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"<!date^{int(time.time()) + 3600}^{{ago}}, {{date_short_pretty}}|later>"},
                {"type": "mrkdwn", "text": f"<!date^{WHEN}^{{date_long}}, {{unknown_token}}|the fallback>"},
            ],
        },
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_list",
                    "style": "bullet",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "<an item>"}]},
                        {
                            "type": "rich_text_section",
                            "elements": [{"type": "text", "text": "strong", "style": {"bold": True}}],
                        },
                    ],
                }
            ],
        },
        {
            "type": "actions",
            "elements": [
                {**button, "text": {"type": "plain_text", "text": "Go"}, "action_id": "go", "style": "primary"},
                {
                    **button,
                    "text": {"type": "plain_text", "text": "Stop"},
                    "action_id": "stop",
                    "style": "danger",
                    "confirm": confirm,
                },
            ],
        },
    ]
    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    await web.chat_postMessage(channel=people.approvals, text="everything", blocks=blocks)
    await sandbox.open("alice")
    await sandbox.go("approvals")
    message = sandbox.message_with("A header")
    await expect(message).to_be_visible(timeout=TIMEOUT_MS)
    return message


async def test_mrkdwn_is_drawn_as_slack_draws_it(posted: Locator, people: People) -> None:
    section = posted.locator(".block-section .section-body > .text").first

    await expect(section.locator("b").first).to_have_text("bold")
    await expect(section.locator("i")).to_have_text("italic")
    await expect(section.locator("s")).to_have_text("struck")
    await expect(section.locator("code")).to_have_text("a <b>code</b>")
    await expect(section.locator("pre")).to_have_text("line one\n*not bold*")  # nothing is formatted in code
    await expect(section.locator("blockquote")).to_have_text("a quote")
    await expect(section.locator(".mention")).to_have_text(["@bob", "@oncall", "@here"])
    await expect(section.locator(".channel-link")).to_have_text("#approvals")
    await expect(section.locator("a")).to_have_text(["the page", "https://example.org/a?b=1&c=2"])
    await expect(section.locator("a").first).to_have_attribute("href", "https://example.com/page")
    await expect(section.locator("a").last).to_have_attribute("href", "https://example.org/a?b=1&c=2")  # not the "."
    await expect(section.locator(".date")).to_have_text("2023-11-14 10:13 PM")  # in the reader's zone (UTC)
    await expect(section).to_contain_text("<not a tag> &")


async def test_blocks_are_drawn_and_a_confirm_dialog_comes_before_the_click(
    posted: Locator, sandbox: SandboxPage, slack: SlackEmulator
) -> None:
    await expect(posted.locator(".block-header")).to_have_text("A header")
    fields = posted.locator(".section-fields > .text")
    await expect(fields).to_have_text(["Field one", "*not mrkdwn*", "verbatim https://example.net"])
    await expect(fields.locator("a")).to_have_count(0)  # verbatim: a bare URL stays text
    await expect(posted.locator(".accessory")).to_have_text("Details")
    await expect(posted.locator(".block-divider")).to_have_count(1)
    await expect(posted.locator(".block-context").first).to_have_text("context note")
    dates = posted.locator(".block-context").last.locator(".date")
    await expect(dates).to_have_text([re.compile(r"^in 1 hour, (Today|Tomorrow)$"), "the fallback"])
    await expect(posted.locator(".rich-list li")).to_have_text(["<an item>", "strong"])
    await expect(posted.locator(".rich-list b")).to_have_text("strong")
    await expect(posted.get_by_role("button", name="Go")).to_have_class("button primary")
    await expect(posted.get_by_role("button", name="Stop")).to_have_class("button danger")

    mark = len(slack.envelopes)
    await sandbox.press(posted, "Stop")
    dialog = sandbox.tab.get_by_role("alertdialog")
    await expect(dialog).to_contain_text("Cancel the request?")
    await expect(dialog.locator("b")).to_have_text("stopped")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_have_count(0)
    assert len(slack.envelopes) == mark  # denied: no click was sent
    assert sandbox.errors == []


async def test_links_inside_the_workspace_open_in_the_page_and_new_messages_mark_a_channel_unread(
    sandbox: SandboxPage, slack: SlackEmulator, people: People
) -> None:
    slack.join(people.approvals)
    slack.join(people.general)
    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    card = await web.chat_postMessage(channel=people.approvals, text="the card")
    link = (await web.chat_getPermalink(channel=people.approvals, message_ts=card["ts"]))["permalink"]
    await web.chat_postMessage(channel=people.general, text=f"See <{link}|the card> in <#{people.approvals}>.")
    await sandbox.open("alice")
    await sandbox.go("general")
    approvals = sandbox.tab.locator('.nav-item[data-nav="approvals"]')
    await expect(approvals).not_to_have_class("nav-item unread")  # what was there when the page opened

    await web.chat_postMessage(channel=people.approvals, text="something new")
    await expect(approvals).to_have_class("nav-item unread", timeout=TIMEOUT_MS)
    await sandbox.message_with("See the card").locator(".channel-link").click()
    await expect(sandbox.tab.locator("#title")).to_have_text("# approvals")
    await expect(approvals).to_have_class("nav-item active")
    await sandbox.go("general")
    await sandbox.message_with("See the card").get_by_role("link", name="the card").click()
    await expect(sandbox.tab.locator("#title")).to_have_text("# approvals")
    await expect(sandbox.tab.locator(f'#messages .message[data-ts="{card["ts"]}"]')).to_be_in_viewport()
    assert len(sandbox.tab.context.pages) == 1  # no tab opened on slack.com
    assert sandbox.errors == []
