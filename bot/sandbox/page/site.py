"""``Page``: the sandbox page mounted on the emulator's own aiohttp server (``SlackEmulator(page=True)``).

Routes: ``/`` the page, ``/static/<file>`` its files, ``GET /page/state?as=U…`` what that person sees,
``GET /page/events?as=U…`` the same, live (server-sent events), and ``POST /page/<action>`` what a person does
(``send``, ``click``, ``submit``, ``close``, ``home_open``, ``home_click``). The page is a transport only: each
action calls the emulator's inputs, so it travels the real path, Socket Mode to the app and the Web API back,
under the same Slack rules as a test's.

The server listens on loopback, but any web page the person has open could send requests there: actions must be
JSON (a cross-site form cannot send that without a CORS preflight, which this server never grants), and a
request naming another ``Host`` or ``Origin`` (DNS rebinding, cross-site scripts) is refused.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.sandbox.page import actions, assets, state
from bot.sandbox.page.stream import Streams

if TYPE_CHECKING:
    from bot.sandbox.emulator import SlackEmulator

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Page:
    def __init__(self, slack: SlackEmulator, hints: Iterable[str] = ()) -> None:
        self.slack = slack
        self.hints = list(hints)
        self.commands = actions.commands(self.hints)
        self.streams = Streams(slack.recorder)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/page/state", self._guarded(self._state))
        app.router.add_get("/page/events", self._guarded(self._events))
        performed: dict[str, actions.Action] = {
            "send": self._send,
            "click": actions.click,
            "submit": actions.submit,
            "close": actions.close,
            "home_open": actions.home_open,
            "home_click": actions.home_click,
        }
        for name, act in performed.items():
            app.router.add_post(f"/page/{name}", self._guarded(functools.partial(self._act, act)))

    async def aclose(self) -> None:
        """End every open page's live stream, so the server can stop at once."""
        await self.streams.close_all()

    # -- routes ----------------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return assets.response("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return assets.response(request.match_info["name"])

    async def _state(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        text = state.dumps(state.snapshot(self.slack, viewer, self.hints))
        return web.Response(text=text, content_type="application/json", headers=assets.HEADERS)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        viewer = self._viewer(request)
        return await self.streams.serve(request, lambda: state.dumps(state.snapshot(self.slack, viewer, self.hints)))

    async def _act(self, act: actions.Action, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return actions.refusal("send the action as application/json", status=415)
        return await actions.answer(self.slack, request, act)

    async def _send(self, slack: SlackEmulator, viewer: str, body: actions.Body) -> None:
        await actions.send(slack, self.commands, viewer, body)

    # -- checks ----------------------------------------------------------------------------------------

    def _viewer(self, request: web.Request) -> str:
        """The ``as`` user of a GET: a person of the workspace (default: the first one)."""
        wanted = request.query.get("as")
        everyone = state.people(self.slack)
        if wanted is None and everyone:
            return str(everyone[0]["id"])
        if wanted is None or not any(p["id"] == wanted for p in everyone):
            raise web.HTTPBadRequest(text="as must be the id of a person in the workspace")
        return wanted

    def _guarded(self, handler: Handler) -> Handler:
        """Refuse a request for another host, or sent by another site (see the module docstring)."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            own = self.slack.url.removeprefix("http://")
            allowed = {own, own.replace("127.0.0.1", "localhost")}
            origin = request.headers.get("Origin")
            if request.host not in allowed or (origin is not None and origin.removeprefix("http://") not in allowed):
                return actions.refusal("this page answers only its own origin", status=403)
            return await handler(request)

        return guarded
