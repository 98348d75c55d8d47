"""Modals, confirm dialogs and the App Home tab in the browser: Edit opens the bot's modal, whose errors show under
its input and whose submit approves the edited draft; Cancel is sent only once its dialog is confirmed; from the
Home tab a pending approval is approved, or revised through the modal a Home click opens."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.sandbox_page import TIMEOUT_MS, SandboxPage
from tests.e2e.conftest import People


async def test_edit_opens_a_modal_that_answers_a_bad_submit_and_approves_the_edit(
    sandbox: SandboxPage, people: People, start_bot
) -> None:
    await start_bot()
    await sandbox.open("bob")
    await sandbox.go("approvals")
    await sandbox.send("/agent-task draft: announce the Q3 launch")
    card = await sandbox.pinned(sandbox.message_with("Approval needed"))

    await sandbox.press(card, "Edit")
    modal = sandbox.tab.get_by_role("dialog")
    await expect(modal).to_contain_text("Edit before approving", timeout=TIMEOUT_MS)
    box = modal.locator("textarea")
    await expect(box).to_have_value("Subject: Q3 launch\n\nWe launch the new billing page on Monday.")
    await modal.get_by_role("button", name="Approve").click()  # nothing changed: the bot says so under the box
    await expect(modal.locator(".input-error")).to_contain_text("Nothing was changed", timeout=TIMEOUT_MS)
    await box.fill("Subject: Q3 launch\n\nThe billing page goes live on Tuesday.")
    await modal.get_by_role("button", name="Approve").click()

    await expect(modal).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(card).to_contain_text("Approved with edits by @bob", timeout=TIMEOUT_MS)
    await expect(card).to_contain_text("goes live on Tuesday")
    assert sandbox.errors == []


async def test_an_approver_approves_from_the_app_home_tab(sandbox: SandboxPage, people: People, start_bot) -> None:
    await start_bot()
    card = await sandbox.card_for("draft: announce the Q3 launch")

    await sandbox.view_as("bob")
    await sandbox.tab.locator('.nav-item[data-nav="app"]').click()
    home = sandbox.tab.locator("#messages")
    await expect(home).to_contain_text("billing page on Monday", timeout=TIMEOUT_MS)
    await home.get_by_role("button", name="Approve", exact=True).first.click()
    await expect(home.get_by_role("button", name="Approve", exact=True)).to_have_count(0, timeout=TIMEOUT_MS)

    await sandbox.go("approvals")
    await expect(card).to_contain_text("Approved by @bob", timeout=TIMEOUT_MS)
    assert sandbox.errors == []


async def test_cancel_asks_for_its_confirmation_before_the_click_is_sent(
    sandbox: SandboxPage, people: People, start_bot
) -> None:
    await start_bot()
    card = await sandbox.card_for("draft: announce the Q3 launch")

    await sandbox.view_as("bob")
    await sandbox.press(card, "Cancel")
    dialog = sandbox.tab.get_by_role("alertdialog")
    await dialog.get_by_role("button", name="Cancel request").click()

    await expect(card).to_contain_text("Cancelled by @bob", timeout=TIMEOUT_MS)
    await sandbox.view_as("alice")
    await expect(sandbox.message_with("cancelled")).to_contain_text("@bob", timeout=TIMEOUT_MS)
    assert sandbox.errors == []


async def test_revise_from_the_app_home_tab_asks_in_a_modal_and_the_agent_revises(
    sandbox: SandboxPage, people: People, start_bot
) -> None:
    await start_bot()
    card = await sandbox.card_for("draft: announce the Q3 launch")

    await sandbox.view_as("bob")
    await sandbox.tab.locator('.nav-item[data-nav="app"]').click()
    home = sandbox.tab.locator("#messages")
    await home.get_by_role("button", name="Revise", exact=True).first.click(timeout=TIMEOUT_MS)
    modal = sandbox.tab.get_by_role("dialog")
    await expect(modal).to_contain_text("Ask for a revision", timeout=TIMEOUT_MS)
    await modal.locator("textarea, input").first.fill("Name the #billing channel")
    await modal.get_by_role("button", name="Send to the agent").click()

    await expect(modal).to_have_count(0, timeout=TIMEOUT_MS)
    await sandbox.go("approvals")
    await expect(card).to_contain_text("Revision requested by @bob", timeout=TIMEOUT_MS)
    await expect(card).to_contain_text("Name the #billing channel")
    await expect(sandbox.message_with("Questions to #billing")).to_contain_text("Approval needed", timeout=TIMEOUT_MS)
    assert sandbox.errors == []
