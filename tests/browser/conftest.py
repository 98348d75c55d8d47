"""Browser tests: headless Chromium (Debian's /usr/bin/chromium, never Playwright's own download) driven by
Playwright against the sandbox page of an emulator started with ``page=True``, and the real bot process.

The e2e fixtures (``people``, ``model_server``, ``start_bot``) are reused as they are; only ``slack`` is this
directory's own, the same strict emulator with the page on.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, async_playwright

from bot.sandbox import SlackEmulator
from bot.slack.scopes import REQUIRED_SCOPES
from tests.browser.sandbox_page import SandboxPage
from tests.e2e.conftest import model_server, people, start_bot

__all__ = ["model_server", "people", "start_bot"]

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}
HINTS = ["/agent-task draft: announce the Q3 launch", "/agent-task ops: delete customer 2"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.browser)
            if not os.access(CHROMIUM, os.X_OK):
                item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium"))


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """The strict emulator with the manifest's scopes, serving the sandbox page."""
    async with SlackEmulator(scopes=REQUIRED_SCOPES, page=True, page_hints=HINTS) as emulator:
        yield emulator


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def sandbox(browser: Browser, slack: SlackEmulator) -> AsyncIterator[SandboxPage]:
    """A fresh tab on the sandbox page (fixed viewport, UTC, en-US), recording script and console errors and dialogs."""
    context = await browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    tab = await context.new_page()
    page = SandboxPage(tab, slack)

    async def on_dialog(dialog: Dialog) -> None:
        page.errors.append(f"a {dialog.type} dialog opened: {dialog.message}")
        await dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # a refused request, a blocked resource, a Content-Security-Policy violation
            page.errors.append(f"console error: {message.text}")

    tab.on("pageerror", lambda error: page.errors.append(f"script error: {error}"))
    tab.on("console", on_console)
    tab.on("dialog", on_dialog)
    try:
        yield page
    finally:
        await context.close()
