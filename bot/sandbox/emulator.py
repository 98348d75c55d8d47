"""``SlackEmulator``: a local Slack (Web API + Socket Mode) for the real slack-sdk and Bolt clients."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from bot.sandbox import payloads
from bot.sandbox.clock import Clock
from bot.sandbox.delivery import ACK_DEADLINE_S, Delivery
from bot.sandbox.home import HomeViews
from bot.sandbox.http_delivery import HttpPusher
from bot.sandbox.http_mode import HttpMode
from bot.sandbox.inputs import Inputs
from bot.sandbox.methods import Methods
from bot.sandbox.modals import Modals
from bot.sandbox.observations import Observations
from bot.sandbox.page import Page
from bot.sandbox.ratelimits import RateLimiter
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Envelope, Failure
from bot.sandbox.response_url import ResponseUrls, ephemeral_from_ack
from bot.sandbox.scopes import DEFAULT_SCOPES, Grants
from bot.sandbox.setup import WorkspaceSetup
from bot.sandbox.socket_mode import SocketHub
from bot.sandbox.web_api import WebApi
from bot.sandbox.workspace import Channel, Workspace

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SlackEmulator(WorkspaceSetup, Inputs, Observations, HttpMode):
    """Serves ``/api/<method>``, ``/link/`` (Socket Mode) and ``/response/<id>`` on 127.0.0.1, port 0.

    Strict by default, as Slack is: scopes, membership, archived channels, rate limits, Block Kit limits,
    response_url expiry, trigger ids (once, within 3 s), modal view rules, the 10-connection limit and the
    3 s ack deadline all apply. Everything runs on the
    caller's event loop::

        async with SlackEmulator(scopes=REQUIRED_SCOPES) as slack:
            alice = slack.add_user("alice")
            approvals = slack.add_channel("approvals", members=[slack.bot_user_id, alice])
            ...  # point the app at slack.api_url (SLACK_API_URL) with slack.bot_token / slack.app_token
            await slack.wait_connections(1)
            mark = slack.mark()
            await slack.slash_command(alice, "draft: release notes", channel_id=approvals)
            prompt = await slack.next_call("chat.postMessage", since=mark)
            await slack.click(alice, approvals, prompt.response["ts"], "approval_approve")

    Modals: the app opens one with views.open and a trigger_id it was sent; ``slack.open_views(alice)`` shows
    it, ``await slack.submit_view(alice, view_id, {"block": {"action": "text"}})`` submits it, and the app's
    ack decides what happens to it (``slack.view(view_id).errors``, ``.is_open``).

    ``scopes`` are the bot token's scopes: pass the app manifest's set (``bot.slack.scopes.REQUIRED_SCOPES``
    in this project). Without it the token has only ``chat:write`` (``scopes.DEFAULT_SCOPES``), so that a
    caller who forgets gets ``missing_scope`` rather than more rights than the installed app.
    ``clock`` (or ``advance``) moves the emulator's time for expiry, rate limits and the ack deadline.
    ``enterprise_id`` makes it an Enterprise Grid workspace (``enterprise`` objects in payloads).
    ``rate_limits=False`` lifts the Web API rate limits (for benchmarks of the bot's own throughput only).
    ``page=True`` also serves the sandbox page, a small Slack in the browser, at ``slack.page_url``; what a person
    does there goes through the same inputs as a test's. ``page_hints`` are commands it suggests in the message
    box (e.g. ``["/agent-task draft: ...", ...]``).
    ``home_tab=False`` is an app whose manifest leaves the Home tab off (views.publish answers ``not_enabled``).

    App Home: ``await slack.open_app_home(alice)`` sends ``app_home_opened``; the app publishes with
    views.publish; ``slack.home_view(alice)`` is what she sees and ``await slack.click_home(alice, action_id,
    value)`` clicks in it (``block_actions`` with a ``view`` container: no channel, no response_url).

    HTTP mode: with ``signing_secret`` (and ``request_urls``, or ``add_request_url`` later) every envelope goes
    out as a signed HTTP request to the next Request URL in turn instead of over Socket Mode (which is then off:
    ``apps.connections.open`` fails); the answer is the ack, and ``connection`` names a URL. ``request_of``
    shows a request as sent; ``verify_url``, ``send_forged`` and ``send_stale`` probe an app's checks.

    Envelopes wait up to 10 s for an open connection, then raise ``TimeoutError``; events caused by Web
    API calls (the bot's own posts and edits, in channels the bot is in) are delivered in the background.
    """

    def __init__(
        self,
        *,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        clock: Clock | None = None,
        bot_token: str = "xoxb-test-bot",
        app_token: str = "xapp-test-app",
        team_id: str = "T0SANDBOX1",
        team_name: str = "Sandbox",
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        bot_user_id: str = "U0BOT00001",
        bot_id: str = "B0BOT00001",
        app_id: str = "A0APP00001",
        bot_name: str = "approval-bot",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        signing_secret: str | None = None,
        request_urls: Iterable[str] = (),
        page: bool = False,
        page_hints: Sequence[str] = (),
        home_tab: bool = True,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.clock = clock or Clock()
        self.grants = Grants(scopes)
        self.workspace = Workspace(
            team_id=team_id,
            team_name=team_name,
            bot_user_id=bot_user_id,
            bot_name=bot_name,
            bot_id=bot_id,
            app_id=app_id,
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name,
        )
        self.recorder = Recorder()
        self.failures: list[Failure] = []
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._hub = SocketHub(app_id, self.recorder, lambda ack: self._delivery.on_ack(ack))
        self._http = None if signing_secret is None else HttpPusher(self.recorder, signing_secret, list(request_urls))
        self._delivery = Delivery(self._hub, self.recorder, self.clock, self._respond, self._failed, self._http)
        self._modals = Modals(self.workspace, self.recorder, self.clock)
        self._home = HomeViews(self.workspace, self.recorder, self.clock, self._modals)
        self._home.enabled = home_tab
        self._methods = Methods(
            self.workspace,
            self.recorder,
            self._echo,
            lambda: self.url,
            self._hub.issue_ticket,
            self.grants,
            self._modals,
        )
        self._methods.socket_mode_enabled = self._http is None  # manifest.http.yml: socket_mode_enabled false
        self._methods.table.update(self._home.table())
        limiter = RateLimiter(self.clock, self._channel_key, enabled=rate_limits)
        self._web = WebApi(self._methods, self.recorder, limiter, bot_token=bot_token, app_token=app_token)
        self._responses = ResponseUrls(self._methods, lambda: self.url, self.clock)
        self._page = Page(self, page_hints) if page else None

    # -- lifetime --------------------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web.handle)
        app.router.add_get("/link/", self._hub.handle)
        app.router.add_get("/link", self._hub.handle)
        app.router.add_post("/response/{key}", self._responses.handle)
        if self._page is not None:
            self._page.mount(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._site = runner, site
        self._port = int(runner.addresses[0][1])
        logger.info("Slack emulator listening on %s", self.url)
        return self

    async def aclose(self) -> None:
        if self._page is not None:
            await self._page.aclose()  # its live streams end first, so the server stops at once
        await self._delivery.aclose()
        if self._site is not None:
            await self._site.stop()  # first stop listening: clients told to go away must not get back in
            self._site = None
        await self._hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._runner is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def page_url(self) -> str:
        """The sandbox page, ``http://127.0.0.1:<port>/`` (only with ``SlackEmulator(page=True)``)."""
        if self._page is None:
            raise RuntimeError("the sandbox page is off: start the emulator with SlackEmulator(page=True)")
        return f"{self.url}/"

    @property
    def page_streams(self) -> int:
        """How many sandbox pages have their live stream open now (0 without the page)."""
        return 0 if self._page is None else len(self._page.streams.open)

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient`` and ``SLACK_API_URL``: ``http://127.0.0.1:<port>/api/``."""
        return f"{self.url}/api/"

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for every time rule (expiry, rate limits, ack deadline, retries)."""
        self.clock.advance(seconds)
        self.recorder.changed()

    # -- Web API faults and Socket Mode switches ----------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int = 1,
        times: int = 1,
        after_handling: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (429 adds ``Retry-After``; 200 is an API error).
        With ``after_handling`` the call takes effect and only its answer is the failure (a lost answer)."""
        self._web.fail_next(
            method, status=status, error=error, retry_after=retry_after, times=times, after_handling=after_handling
        )

    async def disable_socket_mode(self) -> None:
        """Switch Socket Mode off for the app: every connection gets ``disconnect`` ``link_disabled``
        (docs.slack.dev/apis/events-api/using-socket-mode) and apps.connections.open fails from now on."""
        self._methods.socket_mode_enabled = False
        await self._hub.disconnect_all("link_disabled")

    # -- internals -------------------------------------------------------------------------------------

    def _envelope(self, kind: str, payload: dict[str, Any], *, accepts: bool = False) -> Envelope:
        return Envelope(str(uuid.uuid4()), kind, payload, accepts_response_payload=accepts)

    def _echo(self, channel: Channel, event: dict[str, Any]) -> None:
        """An event caused by a Web API call: delivered in the background, if the app may hear it."""
        if self.hears(channel):
            self._delivery.deliver_later(self._envelope("events_api", payloads.event_callback(self.workspace, event)))

    def _respond(self, envelope: Envelope, ack: dict[str, Any]) -> None:
        """What the payload of an ack (in time) does: a command's reply, or the answer to a submitted modal."""
        if envelope.type == "slash_commands":
            ephemeral_from_ack(self._methods, envelope.payload, ack)
        elif envelope.type == "interactive" and envelope.payload.get("type") == "view_submission":
            self._modals.answer(envelope.payload, ack)

    def _failed(self, failure: Failure) -> None:
        self.failures.append(failure)
        if failure.envelope.payload.get("type") == "view_submission":  # the modal stays, with Slack's error
            view = self._modals.views.get(str(failure.envelope.payload.get("view", {}).get("id")))
            if view is not None and view.is_open:
                self._modals.refuse(view, f"no ack within {ACK_DEADLINE_S:.0f} s")
        if failure.outcome == "shown_error":  # Slackbot tells the person privately, as Slack does
            payload = failure.envelope.payload
            channel = self.workspace.channels.get(str(payload.get("channel_id")))
            user = str(payload.get("user_id"))
            if channel is not None and user in self.workspace.users:
                # No answer in time: "operation_timeout"; an app that does not answer 2xx or cannot be reached:
                # "dispatch_failed" (github.com/slackapi/bolt-python/issues/951, a maintainer's answer; Slack
                # says "http_client_error" for some 4xx, github.com/Netflix/dispatch/issues/495).
                error = "operation_timeout" if failure.reason in ("timeout", "http_timeout") else "dispatch_failed"
                text = f'{payload.get("command")} failed with the error "{error}"'
                message = self.workspace.new_message(channel, self.workspace.bot, text, visible_to=user)
                self.workspace.store(message)
                self.recorder.emit(self.workspace.activity("ephemeral", "slack", message))
                return
        self.recorder.changed()
