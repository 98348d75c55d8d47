"""A person's round in the browser: a task typed on the sandbox page, a Revise with feedback in the card's thread,
the revised card, Approve; the real bot (its own process) on the other side of the emulator."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.browser.sandbox_page import TIMEOUT_MS, SandboxPage
from tests.browser.scripts import config_file, drafter
from tests.e2e.conftest import People
from tests.model_server import ModelServer

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "sandbox.png"
FEEDBACK = "mention the #billing channel for questions"


async def test_revise_in_the_thread_then_approve(
    sandbox: SandboxPage, people: People, start_bot, model_server: ModelServer, tmp_path: Path
) -> None:
    model = config_file(model_server, model_server.add("drafter-browser", drafter), tmp_path)
    await start_bot(MODEL_CONFIG=model)
    await sandbox.open("alice")
    await sandbox.go("general")

    await sandbox.send("/agent-task draft: announce the Q3 launch")
    started = sandbox.message_with("Started")
    await expect(started).to_contain_text("Only visible to you", timeout=TIMEOUT_MS)
    await sandbox.go("approvals")
    card = await sandbox.pinned(sandbox.message_with("billing page on Monday"))
    await expect(card).to_contain_text("Requested by @alice for draft", timeout=TIMEOUT_MS)  # a mention, as a name

    await sandbox.view_as("bob")
    await sandbox.press(card, "Revise")
    thread = await sandbox.open_thread(card)
    await expect(thread).to_contain_text("Reply in this thread", timeout=TIMEOUT_MS)
    await sandbox.reply(FEEDBACK)
    revised = await sandbox.pinned(sandbox.message_with("Revised as asked"))
    await expect(revised).to_contain_text(FEEDBACK, timeout=TIMEOUT_MS)
    await expect(card).to_contain_text("Revision requested by @bob", timeout=TIMEOUT_MS)
    await expect(card.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await sandbox.tab.screenshot(path=SCREENSHOT)

    await sandbox.press(revised, "Approve")
    await expect(revised).to_contain_text("Approved by @bob", timeout=TIMEOUT_MS)
    await expect(revised.locator(".content button")).to_have_count(0)  # the decision buttons are gone
    await sandbox.view_as("alice")
    await sandbox.go("general")
    report = sandbox.message_with("approved")
    await expect(report).to_contain_text("@bob", timeout=TIMEOUT_MS)
    await expect(report).to_contain_text("Revised as asked")
    await expect(report).to_contain_text("Only visible to you")
    assert sandbox.errors == []
