"""``Page``: the sandbox page mounted on the emulator's own aiohttp server (``SlackEmulator(page=True)``).

Routes: ``/`` the page, ``/static/<file>`` its files, ``/page/...`` the JSON state, the live stream and what a
person does there. The page is a transport only: each action calls the emulator's inputs (``slash_command``,
``click``, ``user_message``, ``submit_view``, ...), so it travels the real path, Socket Mode to the app and the
Web API back, under the same Slack rules as a test's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.sandbox.page import assets

if TYPE_CHECKING:
    from bot.sandbox.emulator import SlackEmulator

logger = logging.getLogger(__name__)


class Page:
    def __init__(self, slack: SlackEmulator, hints: Iterable[str] = ()) -> None:
        self.slack = slack
        self.hints = list(hints)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)

    async def aclose(self) -> None:
        """Close every open page's live stream (so the server can stop at once)."""

    async def _index(self, request: web.Request) -> web.Response:
        return assets.response("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return assets.response(request.match_info["name"])
