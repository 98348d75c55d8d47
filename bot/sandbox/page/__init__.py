"""The sandbox page: a small Slack in the browser, served by the emulator (``SlackEmulator(page=True)``)."""

from bot.sandbox.page.site import Page

__all__ = ["Page"]
