"""Hostile text on the sandbox page: markup in a model's answer, in what a person types and in what an app posts
shows as the characters it is; no script runs, no dialog opens, no link leads to ``javascript:``."""

from __future__ import annotations

from playwright.async_api import expect
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from tests.browser.sandbox_page import TIMEOUT_MS, SandboxPage
from tests.e2e.conftest import People

SCRIPT = "<script>window.__pwned = 1; alert(1)</script>"
IMAGE = '<img src=x onerror="window.__pwned = 2; alert(2)">'
ANSWER = f"Subject: {SCRIPT}\n\n{IMAGE} and [a link](javascript:window.__pwned=3)"


async def no_script_ran(sandbox: SandboxPage) -> None:
    assert await sandbox.tab.evaluate("window.__pwned") is None
    markup = sandbox.tab.locator("#messages script, #messages img, #thread script, #thread img, a[href^='javascript']")
    await expect(markup).to_have_count(0)
    assert sandbox.errors == []


async def test_markup_from_the_model_and_from_people_shows_as_text(
    sandbox: SandboxPage, people: People, start_bot
) -> None:
    await start_bot(answers=[ANSWER])
    await sandbox.open("alice")
    await sandbox.go("approvals")

    await sandbox.send(f"/agent-task draft: {IMAGE}")
    card = await sandbox.pinned(sandbox.message_with("Approval needed"))
    await expect(card).to_contain_text(SCRIPT, timeout=TIMEOUT_MS)
    await expect(card).to_contain_text(IMAGE)
    thread = await sandbox.open_thread(card)
    await sandbox.reply(f"{SCRIPT} {IMAGE}")
    mine = thread.locator(".message").filter(has=sandbox.tab.locator(".author", has_text="alice"))
    await expect(mine).to_contain_text(f"{SCRIPT} {IMAGE}", timeout=TIMEOUT_MS)
    await no_script_ran(sandbox)


async def test_control_sequences_an_app_posts_never_become_markup_or_script_links(
    sandbox: SandboxPage, slack: SlackEmulator, people: People
) -> None:
    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    slack.join(people.approvals)
    text = (
        f"<javascript:window.__pwned=4|click me> <{IMAGE[1:-1]}> "
        "<data:text/html,&lt;script&gt;alert(3)&lt;/script&gt;|data> "
        "<https://example.com/ok|a fine link> &lt;b&gt;not bold&lt;/b&gt; <!date^notanumber^{date}|a fallback date>"
    )
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": SCRIPT}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "context", "elements": [{"type": "plain_text", "text": IMAGE}]},
    ]
    await web.chat_postMessage(channel=people.approvals, text="hostile", blocks=blocks)
    await sandbox.open("alice")
    await sandbox.go("approvals")

    message = sandbox.message_with("click me")
    await expect(message).to_contain_text(SCRIPT, timeout=TIMEOUT_MS)
    await expect(message).to_contain_text("<b>not bold</b>")
    await expect(message).to_contain_text("a fallback date")
    await expect(message.get_by_text("click me")).to_have_js_property("tagName", "SPAN")
    await message.get_by_text("click me").click()
    await message.get_by_text("data", exact=True).click()
    await expect(message.locator("a")).to_have_count(1)
    await expect(message.locator("a")).to_have_attribute("href", "https://example.com/ok")
    await no_script_ran(sandbox)
