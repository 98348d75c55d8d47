"""What people (and Slack itself) do to the app: commands, clicks, posts, edits, redeliveries, socket events.

A base of ``SlackEmulator``; every method here ends in an envelope sent over Socket Mode or HTTP (or none, when
the app may not hear of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox import payloads
from bot.sandbox.delivery import Delivery, retry_of
from bot.sandbox.home import HomeViews
from bot.sandbox.modals import Modals
from bot.sandbox.records import Envelope
from bot.sandbox.response_url import ResponseUrls
from bot.sandbox.richtext import compose
from bot.sandbox.scopes import COMMANDS, Grants
from bot.sandbox.socket_mode import SocketHub
from bot.sandbox.workspace import Channel, Message, Workspace


class Inputs:
    workspace: Workspace
    grants: Grants
    _delivery: Delivery
    _hub: SocketHub
    _responses: ResponseUrls
    _modals: Modals
    _home: HomeViews

    def _channel(self, ref: str) -> Channel:
        raise NotImplementedError

    def _envelope(self, kind: str, payload: dict[str, Any], *, accepts: bool = False) -> Envelope:
        raise NotImplementedError

    async def slash_command(
        self,
        user_id: str,
        text: str,
        channel_id: str | None = None,
        command: str = "/agent-task",
        connection: str | None = None,
    ) -> Envelope:
        """A person types ``command text``; Slack offers the command only if the app has ``commands``."""
        payload = self.build_command(user_id, text, channel_id, command)
        return await self._delivery.deliver(self._envelope("slash_commands", payload, accepts=True), connection)

    def build_command(
        self, user_id: str, text: str, channel_id: str | None = None, command: str = "/agent-task"
    ) -> dict[str, Any]:
        """The payload of ``command text`` typed by ``user_id`` (its response_url and trigger id are issued)."""
        if COMMANDS not in self.grants.scopes:
            raise PermissionError(f"the app lacks the {COMMANDS!r} scope: Slack would not offer {command}")
        ws = self.workspace
        channel = self._channel(channel_id or ws.general)
        user = ws.users[user_id]
        response_url = self._responses.issue(user.id, channel.id)
        payload = payloads.slash_command(ws, user, channel, command, text, response_url)
        self._modals.triggers.record(payload["trigger_id"], user.id, "slash_commands")
        return payload

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
        payload = payloads.block_actions(ws, ws.users[user_id], channel, message, action_id, value, response_url)
        self._modals.triggers.record(payload["trigger_id"], user_id, "block_actions")
        return payload

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
        """Send any interactive payload as is (its trigger id counts only if the emulator issued it)."""
        accepts = payload.get("type") in ("view_submission", "block_suggestion")  # acks that may carry an answer
        return await self._delivery.deliver(self._envelope("interactive", payload, accepts=accepts), connection)

    async def open_app_home(self, user_id: str, tab: str = "home", connection: str | None = None) -> Envelope:
        """A person opens the app's Home (or Messages) tab: ``app_home_opened``, with the published ``view``
        when they open Home and one was published for them."""
        return await self._deliver_event(self._home.opened_event(user_id, tab), connection)

    def build_home_click(
        self, user_id: str, action_id: str, value: str | None = None, block_id: str | None = None
    ) -> dict[str, Any]:
        """The ``block_actions`` payload of a click on the current Home view of ``user_id`` (not sent; its trigger
        id is issued): to send later, as a click from a Home that was not refreshed yet would arrive."""
        return self._home.click(user_id, action_id, value, block_id)

    async def click_home(
        self,
        user_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        connection: str | None = None,
    ) -> Envelope:
        """A person clicks an element of their Home tab: ``block_actions`` from the view (see ``home``)."""
        return await self.send_interactive(self.build_home_click(user_id, action_id, value, block_id), connection)

    async def submit_view(
        self,
        user_id: str,
        view_id: str,
        values: Mapping[str, Mapping[str, str]] | None = None,
        connection: str | None = None,
    ) -> Envelope:
        """A person types ``values`` (block_id -> action_id -> text) into their visible modal view and presses
        Submit: a ``view_submission`` payload, with a fresh trigger id. Inputs not named keep what they show
        (their ``initial_value``, or what was typed before); ``""`` empties one. ``ValueError`` when Slack
        would not let them (see ``Modals.submission``). The app's ack decides what happens to the view:
        ``await slack.wait_ack(envelope)``, then ``slack.view(view_id)``."""
        payload = self._modals.submission(user_id, view_id, values or {})
        return await self.send_interactive(payload, connection)

    async def close_view(self, user_id: str, view_id: str, connection: str | None = None) -> Envelope | None:
        """A person presses Cancel on their visible modal view; the ``view_closed`` envelope if the view asked
        for one (``notify_on_close``), else None."""
        payload = self._modals.dismissal(user_id, view_id)
        return None if payload is None else await self.send_interactive(payload, connection)

    async def user_message(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        thread_ts: str | None = None,
        connection: str | None = None,
        *,
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        """A person posts in a conversation (or a thread); the app hears of it if it may (see ``hears``).

        ``text`` is what the person types (see ``richtext``): it arrives entity-escaped, with a ``rich_text``
        block. With ``files`` (Slack file objects, e.g. ``{"id": "F…", "name": "a.txt"}``) the message has
        ``subtype: file_share`` (docs.slack.dev/reference/events/message/file_share).
        """
        ws = self.workspace
        channel = self._channel(channel_id)
        user = ws.users[user_id]
        if (channel.private or channel.is_im) and user.id not in channel.members:
            raise ValueError(f"{user.name} is not a member of the private conversation {channel.name}")
        if channel.archived:
            raise ValueError(f"#{channel.name} is archived: nobody can post there")
        channel.members.add(user.id)
        if thread_ts is not None:
            parent = ws.find(channel.id, thread_ts)
            if parent is None:
                raise LookupError(f"no message {thread_ts} in {channel.id} to reply to")
            thread_ts = parent.thread_ts if parent.is_reply else parent.ts
        wire, blocks = self._compose(text)
        fields: dict[str, Any] = {"thread_ts": thread_ts, "blocks": blocks}
        if files:
            fields.update(subtype="file_share", files=[self._file(f, user.id) for f in files])
        message = ws.store(ws.new_message(channel, user, wire, **fields))
        self._delivery.recorder.emit(ws.activity("message", "user", message))
        if self.hears(channel):
            event = payloads.message_event(ws, channel, message)
            await self._deliver_event(event, connection)
        return message

    async def edit_message(
        self, user_id: str, channel_id: str, ts: str, new_text: str, connection: str | None = None
    ) -> Message:
        """A person edits their message: ``message_changed`` with ``message`` and ``previous_message``
        (docs.slack.dev/reference/events/message/message_changed)."""
        ws = self.workspace
        channel = self._channel(channel_id)
        old = ws.find(channel.id, ts)
        if old is None or old.user != user_id:
            raise LookupError(f"{user_id} has no message {ts} in {channel.id}")
        wire, blocks = self._compose(new_text)
        new = ws.store(ws.edited(old, text=wire, blocks=blocks))
        self._delivery.recorder.emit(ws.activity("update", "user", new))
        if self.hears(channel):
            await self._deliver_event(payloads.message_changed_event(ws, channel, old, new), connection)
        return new

    def hears(self, channel: Channel) -> bool:
        """Whether the app gets message events of ``channel``: the bot is in it and has its history scope."""
        return self.workspace.bot_is_member(channel) and self.grants.hears(channel.kind)

    async def redeliver(self, envelope: Envelope, connection: str | None = None) -> Envelope:
        """Send the same payload again as Slack's retry: a new envelope id, ``retry_attempt`` + 1."""
        return await self._delivery.deliver(retry_of(envelope), connection)

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

    async def _deliver_event(self, event: dict[str, Any], connection: str | None) -> Envelope:
        envelope = self._envelope("events_api", payloads.event_callback(self.workspace, event))
        return await self._delivery.deliver(envelope, connection)

    def _compose(self, typed: str) -> tuple[str, list[dict[str, Any]]]:
        ws = self.workspace

        def user_named(name: str) -> str | None:
            return next((u.id for u in ws.users.values() if u.name == name), None)

        def channel_named(name: str) -> str | None:
            found = ws.find_channel(name)
            return found.id if found is not None and not found.private else None

        return compose(typed, user_named, channel_named)

    def _file(self, file: dict[str, Any], user_id: str) -> dict[str, Any]:
        """A file object as a file_share event carries it (docs.slack.dev/reference/objects/file-object)."""
        file_id = str(file.get("id") or self.workspace.new_id("F"))
        name = str(file.get("name") or "file.txt")
        return {
            "id": file_id,
            "name": name,
            "title": file.get("title", name),
            "mimetype": file.get("mimetype", "text/plain"),
            "filetype": file.get("filetype", name.rsplit(".", 1)[-1] if "." in name else "text"),
            "user": user_id,
            "size": int(file.get("size", 0)),
            "mode": "hosted",
            "url_private": file.get("url_private", f"https://files.slack.com/files-pri/{file_id}/{name}"),
            **{k: v for k, v in file.items() if k not in ("id", "name")},
        }
