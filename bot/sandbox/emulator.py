"""``SlackEmulator``: a local Slack (Web API + Socket Mode) for the real slack-sdk and Bolt clients."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from bot.sandbox import payloads
from bot.sandbox.delivery import Delivery
from bot.sandbox.methods import Methods
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Activity, Call, Envelope
from bot.sandbox.response_url import ResponseUrls, ephemeral_from_ack
from bot.sandbox.socket_mode import SocketHub
from bot.sandbox.web_api import WebApi
from bot.sandbox.workspace import Channel, Message, Workspace

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SlackEmulator:
    """Serves ``/api/<method>``, ``/link/`` (Socket Mode) and ``/response/<id>`` on 127.0.0.1, port 0.

    Everything runs on the caller's event loop::

        async with SlackEmulator() as slack:
            alice = slack.add_user("alice")
            approvals = slack.add_channel("approvals", members=[slack.bot_user_id, alice])
            ...  # point the app at slack.api_url (SLACK_API_URL) with slack.bot_token / slack.app_token
            await slack.wait_connections(1)
            mark = slack.mark()
            await slack.slash_command(alice, "draft: release notes", channel_id=approvals)
            prompt = await slack.next_call("chat.postMessage", since=mark)
            await slack.click(alice, approvals, prompt.response["ts"], "approval_approve")

    Envelopes wait up to 10 s for an open connection, then raise ``TimeoutError``; events caused by Web
    API calls (the bot's own posts and edits, in channels the bot is in) are delivered in the background.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot",
        app_token: str = "xapp-test-app",
        team_id: str = "T0SANDBOX1",
        team_name: str = "Sandbox",
        bot_user_id: str = "U0BOT00001",
        bot_id: str = "B0BOT00001",
        app_id: str = "A0APP00001",
        bot_name: str = "approval-bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.workspace = Workspace(
            team_id=team_id,
            team_name=team_name,
            bot_user_id=bot_user_id,
            bot_name=bot_name,
            bot_id=bot_id,
            app_id=app_id,
        )
        self.recorder = Recorder()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._hub = SocketHub(app_id, self.recorder, lambda ack: self._delivery.on_ack(ack))
        self._delivery = Delivery(
            self._hub, self.recorder, lambda payload, ack: ephemeral_from_ack(self._methods, payload, ack)
        )
        self._methods = Methods(self.workspace, self.recorder, self._echo, lambda: self.url, self._hub.issue_ticket)
        self._web = WebApi(self._methods, self.recorder, bot_token=bot_token, app_token=app_token)
        self._responses = ResponseUrls(self._methods, lambda: self.url)

    # -- lifetime --------------------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web.handle)
        app.router.add_get("/link/", self._hub.handle)
        app.router.add_get("/link", self._hub.handle)
        app.router.add_post("/response/{key}", self._responses.handle)
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
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient`` and ``SLACK_API_URL``: ``http://127.0.0.1:<port>/api/``."""
        return f"{self.url}/api/"

    # -- workspace setup -------------------------------------------------------------------------------

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot.id

    @property
    def bot_id(self) -> str:
        return self.workspace.bot.bot_id or ""

    @property
    def app_id(self) -> str:
        return self.workspace.app_id

    @property
    def general(self) -> str:
        """The id of ``#general``, which every added user (not the bot) joins."""
        return self.workspace.general

    def add_user(self, name: str, user_id: str | None = None) -> str:
        user_id = self.workspace.add_user(name, user_id).id
        self.recorder.changed()
        return user_id

    def add_channel(self, name: str, private: bool = False, members: Iterable[str] = ()) -> str:
        """A new channel; list ``slack.bot_user_id`` in ``members`` to make the bot a member."""
        channel_id = self.workspace.add_channel(name, private=private, members=tuple(members)).id
        self.recorder.changed()
        return channel_id

    def join(self, channel: str, user_id: str | None = None) -> None:
        """Add a user (the bot by default) to a channel."""
        self._channel(channel).members.add(user_id or self.bot_user_id)
        self.recorder.changed()

    def channel_id(self, name: str) -> str:
        return self._channel(name).id

    def _channel(self, ref: str) -> Channel:
        channel = self.workspace.find_channel(ref)
        if channel is None:
            raise LookupError(f"no channel {ref!r}")
        return channel

    # -- Web API: faults and recordings ----------------------------------------------------------------

    def fail_next(
        self, method: str, *, status: int = 429, error: str = "ratelimited", retry_after: int = 1, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (429 adds ``Retry-After``; 200 is an API error)."""
        self._web.fail_next(method, status=status, error=error, retry_after=retry_after, times=times)

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.recorder.calls if c.method == method]

    def mark(self) -> int:
        """A position in ``calls``, for ``next_call(since=...)`` without races."""
        return self.recorder.mark()

    async def next_call(
        self,
        method: str,
        timeout: float = 5,
        *,
        since: int | None = None,
        where: Callable[[Call], bool] | None = None,
    ) -> Call:
        """The first call of ``method`` at or after ``since`` (default: now) that satisfies ``where``."""
        return await self.recorder.next_call(method, timeout=timeout, since=since, where=where)

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change) and return its value."""
        return await self.recorder.wait_for(predicate, timeout)

    def on_activity(self, callback: Callable[[Activity], None]) -> Callable[[], None]:
        """Call ``callback`` for every message posted, updated, deleted or shown ephemerally; returns an undo."""
        return self.recorder.subscribe(callback)

    # -- state -----------------------------------------------------------------------------------------

    def messages(self, channel: str) -> list[Message]:
        return self.workspace.top_level(self._channel(channel).id)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.workspace.replies(self._channel(channel).id, ts)

    def message(self, channel: str, ts: str) -> Message | None:
        return self.workspace.find(self._channel(channel).id, ts)

    def ephemerals(self, user_id: str) -> list[Message]:
        return self.workspace.ephemerals(user_id)

    @property
    def views(self) -> list[dict[str, Any]]:
        """Modals opened with ``views.open``."""
        return self._methods.views

    # -- Socket Mode -----------------------------------------------------------------------------------

    @property
    def connections(self) -> list[str]:
        """Ids of the open Socket Mode connections, oldest first."""
        return [c.id for c in self._hub.open]

    async def wait_connections(self, n: int = 1, timeout: float = 10) -> list[str]:
        """Wait until at least ``n`` connections are open (and not told to disconnect); return all open ids."""

        def ready() -> list[str]:
            usable = [c for c in self._hub.open if not c.draining]
            return self.connections if len(usable) >= n else []

        return await self.recorder.wait_for(ready, timeout, f"{n} Socket Mode connection(s)")

    @property
    def envelopes(self) -> list[Envelope]:
        return self.recorder.envelopes

    @property
    def acks(self) -> dict[str, dict[str, Any]]:
        return self.recorder.acks

    async def wait_ack(self, envelope: Envelope, timeout: float = 5) -> dict[str, Any]:
        """The app's ack of ``envelope`` (its JSON object); ``TimeoutError`` if none arrives."""
        return await self.recorder.wait_for(
            lambda: self.recorder.acks.get(envelope.envelope_id),
            timeout,
            f"the ack of {envelope.type} envelope {envelope.envelope_id}",
        )

    def event_envelope(self, ts: str) -> Envelope | None:
        """The first ``events_api`` envelope whose event has this ``ts`` (e.g. a ``user_message``)."""
        for envelope in self.recorder.envelopes:
            if envelope.type == "events_api" and envelope.payload.get("event", {}).get("ts") == ts:
                return envelope
        return None

    async def slash_command(
        self,
        user_id: str,
        text: str,
        channel_id: str | None = None,
        command: str = "/agent-task",
        connection: str | None = None,
    ) -> Envelope:
        ws = self.workspace
        channel = self._channel(channel_id or ws.general)
        user = ws.users[user_id]
        response_url = self._responses.issue(user.id, channel.id)
        payload = payloads.slash_command(ws, user, channel, command, text, response_url)
        return await self._deliver(self._envelope("slash_commands", payload, accepts=True), connection)

    def build_click(
        self, user_id: str, channel_id: str, ts: str, action_id: str, value: str | None = None
    ) -> dict[str, Any]:
        """The ``block_actions`` payload of a click on the current state of a message (or the user's ephemeral)."""
        ws = self.workspace
        channel = self._channel(channel_id)
        message = ws.find(channel.id, ts) or ws.find_ephemeral(user_id, ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel.id}")
        response_url = self._responses.issue(user_id, channel.id, message.ts)
        return payloads.block_actions(ws, ws.users[user_id], channel, message, action_id, value, response_url)

    async def click(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        action_id: str,
        value: str | None = None,
        connection: str | None = None,
    ) -> Envelope:
        payload = self.build_click(user_id, channel_id, ts, action_id, value)
        return await self.send_interactive(payload, connection)

    async def send_interactive(self, payload: dict[str, Any], connection: str | None = None) -> Envelope:
        return await self._deliver(self._envelope("interactive", payload), connection)

    async def user_message(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None, connection: str | None = None
    ) -> Message:
        """A person posts in a channel (or a thread); the app hears of it if the bot is a member."""
        ws = self.workspace
        channel = self._channel(channel_id)
        user = ws.users[user_id]
        if channel.private and user.id not in channel.members:
            raise ValueError(f"{user.name} is not a member of the private channel #{channel.name}")
        channel.members.add(user.id)
        if thread_ts is not None:
            parent = ws.find(channel.id, thread_ts)
            if parent is None:
                raise LookupError(f"no message {thread_ts} in {channel.id} to reply to")
            thread_ts = parent.thread_ts if parent.is_reply else parent.ts
        message = ws.store(ws.new_message(channel, user, text, thread_ts=thread_ts))
        self.recorder.emit(ws.activity("message", "user", message))
        if ws.bot_is_member(channel):
            event = payloads.message_event(ws, channel, message)
            await self._deliver(self._envelope("events_api", payloads.event_callback(ws, event)), connection)
        return message

    async def redeliver(self, envelope: Envelope, connection: str | None = None) -> Envelope:
        """Send the same payload again as Slack's retry: a new envelope id, ``retry_attempt`` + 1."""
        retry = replace(
            envelope,
            envelope_id=str(uuid.uuid4()),
            retry_attempt=envelope.retry_attempt + 1,
            retry_reason="timeout",
            connection=None,
        )
        return await self._deliver(retry, connection)

    async def send_raw(self, text: str, connection: str | None = None) -> str:
        """Write any text frame; returns the connection it went to."""
        return await self._delivery.send_raw(text, connection)

    async def disconnect(self, connection: str, reason: str = "refresh_requested") -> None:
        """Send ``{"type": "disconnect"}``; the client then opens a new connection and closes this one."""
        await self._hub.disconnect(connection, reason)

    async def drop(self, connection: str, *, abrupt: bool = True) -> None:
        """Close a socket from the server side: abort the TCP connection, or (``abrupt=False``) a WS close."""
        await self._hub.drop(connection, abrupt=abrupt)

    # -- internals -------------------------------------------------------------------------------------

    def _envelope(self, kind: str, payload: dict[str, Any], *, accepts: bool = False) -> Envelope:
        return Envelope(str(uuid.uuid4()), kind, payload, accepts_response_payload=accepts)

    async def _deliver(self, envelope: Envelope, connection: str | None) -> Envelope:
        return await self._delivery.deliver(envelope, connection)

    def _echo(self, channel: Channel, event: dict[str, Any]) -> None:
        """An event caused by a Web API call: delivered in the background, if the bot may see it."""
        if self.workspace.bot_is_member(channel):
            self._delivery.deliver_later(self._envelope("events_api", payloads.event_callback(self.workspace, event)))
