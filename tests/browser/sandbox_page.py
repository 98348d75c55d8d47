"""``SandboxPage``: what a person does and reads on the sandbox page, in Playwright terms.

Every wait is Playwright's own (``expect`` and locators poll the DOM until a timeout); nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.async_api import Locator, Page, expect

from bot.sandbox import SlackEmulator

TIMEOUT_MS = 20_000  # the bot's model turn and Slack round trips, on a loaded 2-core machine


@dataclass
class SandboxPage:
    tab: Page
    slack: SlackEmulator
    errors: list[str] = field(default_factory=list)

    async def open(self, as_name: str | None = None) -> None:
        await self.tab.goto(self.slack.page_url)
        await expect(self.tab.locator("body")).to_have_attribute("data-ready", "1", timeout=TIMEOUT_MS)
        if as_name is not None:
            await self.view_as(as_name)

    async def view_as(self, name: str) -> None:
        """Pick ``name`` in the user switcher and wait until the page shows what they see."""
        user_id = next(u.id for u in self.slack.workspace.users.values() if u.name == name)
        await self.tab.get_by_label("Viewing as").select_option(user_id)
        await expect(self.tab.locator("body")).to_have_attribute("data-viewer", user_id, timeout=TIMEOUT_MS)

    async def go(self, channel: str) -> None:
        await self.tab.locator(f'.nav-item[data-nav="{channel}"]').click()
        await expect(self.tab.locator("#title")).to_have_text(f"# {channel}")

    async def send(self, text: str) -> None:
        box = self.tab.locator("#box")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("", timeout=TIMEOUT_MS)  # cleared once the emulator took it

    async def card_for(self, task: str, *, by: str = "alice", showing: str = "Approval needed") -> Locator:
        """``by`` types ``/agent-task <task>`` in #approvals; the card that shows ``showing``, pinned."""
        await self.open(by)
        await self.go("approvals")
        await self.send(f"/agent-task {task}")
        return await self.pinned(self.message_with(showing))

    def messages(self) -> Locator:
        return self.tab.locator("#messages > .message")

    def message_with(self, text: str) -> Locator:
        """The last top-level message (in the open conversation) whose text includes ``text``."""
        return self.messages().filter(has_text=text).last

    async def pinned(self, message: Locator) -> Locator:
        """The same message from now on, by its ts (a text filter would follow later messages that match)."""
        await expect(message).to_be_visible(timeout=TIMEOUT_MS)
        ts = await message.get_attribute("data-ts")
        return self.tab.locator(f'#messages > .message[data-ts="{ts}"]')

    async def press(self, message: Locator, button: str) -> None:
        await message.get_by_role("button", name=button, exact=True).click()

    async def open_thread(self, message: Locator) -> Locator:
        await message.locator(".replies").click()
        pane = self.tab.locator("#thread")
        await expect(pane).to_be_visible()
        return pane

    async def reply(self, text: str) -> None:
        box = self.tab.locator("#thread-box")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("", timeout=TIMEOUT_MS)
