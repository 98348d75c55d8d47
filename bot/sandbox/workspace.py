"""In-memory state of one emulated Slack workspace: users, channels, messages, threads, ephemerals.

No I/O and no asyncio here; the Web API and the emulator read and change it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from bot.sandbox.records import Activity


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    is_bot: bool = False
    bot_id: str | None = None


@dataclass(slots=True)
class Channel:
    id: str
    name: str
    private: bool = False
    members: set[str] = field(default_factory=set)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def channel_type(self) -> str:
        """The ``channel_type`` of message events: ``group`` for private channels."""
        return "group" if self.private else "channel"


@dataclass(frozen=True, slots=True)
class Message:
    """A message as stored; replaced (never mutated) by updates. ``visible_to`` marks an ephemeral one."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    subtype: str | None = None
    edited_ts: str | None = None
    client_msg_id: str | None = None
    visible_to: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


class Workspace:
    """Team, bot user, users, channels and every message, with Slack-like ``ts`` ids."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        bot_user_id: str,
        bot_name: str,
        bot_id: str,
        app_id: str,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_name.lower().replace(" ", "-")
        self.bot = User(bot_user_id, bot_name, is_bot=True, bot_id=bot_id)
        self.app_id = app_id
        self.users: dict[str, User] = {bot_user_id: self.bot}
        self.channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: dict[str, list[Message]] = {}
        self._last_us = 0
        self._counter = 0
        self.general = self.add_channel("general").id

    # -- ids -------------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A new message ts: ``"<seconds>.<6 digits>"``, unique and strictly increasing."""
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}0SBX{self._counter:05d}"

    # -- users and channels ----------------------------------------------------------------------------

    def add_user(self, name: str, user_id: str | None = None) -> User:
        if any(u.name == name for u in self.users.values()):
            raise ValueError(f"a user named {name!r} already exists")
        user = User(user_id or self._next_id("U"), name)
        if user.id in self.users:
            raise ValueError(f"user id {user.id} already exists")
        self.users[user.id] = user
        self.channels[self.general].members.add(user.id)
        return user

    def add_channel(self, name: str, *, private: bool = False, members: tuple[str, ...] = ()) -> Channel:
        name = name.removeprefix("#")
        if self.find_channel(name) is not None:
            raise ValueError(f"a channel named #{name} already exists")
        unknown = [m for m in members if m not in self.users]
        if unknown:
            raise ValueError(f"unknown members {unknown}")
        channel = Channel(self._next_id("G" if private else "C"), name, private, set(members))
        self.channels[channel.id] = channel
        self._messages[channel.id] = []
        return channel

    def find_channel(self, ref: str) -> Channel | None:
        """A channel by ID, ``#name`` or ``name``."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def bot_is_member(self, channel: Channel) -> bool:
        return self.bot.id in channel.members

    # -- messages --------------------------------------------------------------------------------------

    def store(self, message: Message) -> Message:
        """Add a new message, or replace the stored one with the same channel and ts."""
        if message.visible_to is not None:
            messages = self._ephemerals.setdefault(message.visible_to, [])
        else:
            messages = self._messages[message.channel]
        for i, old in enumerate(messages):
            if old.ts == message.ts:
                messages[i] = message
                return message
        messages.append(message)
        return message

    def delete(self, channel_id: str, ts: str) -> Message | None:
        found = self.find(channel_id, ts)
        if found is not None:
            self._messages[channel_id].remove(found)
        return found

    def find(self, channel_id: str, ts: str) -> Message | None:
        return next((m for m in self._messages.get(channel_id, ()) if m.ts == ts), None)

    def find_ephemeral(self, user_id: str, ts: str) -> Message | None:
        return next((m for m in self._ephemerals.get(user_id, ()) if m.ts == ts), None)

    def top_level(self, channel_id: str) -> list[Message]:
        return [m for m in self._messages.get(channel_id, ()) if not m.is_reply or m.subtype == "thread_broadcast"]

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        return [m for m in self._messages.get(channel_id, ()) if m.is_reply and m.thread_ts == thread_ts]

    def ephemerals(self, user_id: str) -> list[Message]:
        return list(self._ephemerals.get(user_id, ()))

    def new_message(self, channel: Channel, user: User, text: str, **fields: Any) -> Message:
        """A new (not yet stored) message by ``user``, carrying bot ids when the user is the bot."""
        if user.is_bot:
            fields.setdefault("bot_id", user.bot_id)
            fields.setdefault("app_id", self.app_id)
        else:
            fields.setdefault("client_msg_id", str(uuid.uuid4()))
        return Message(channel=channel.id, ts=self.next_ts(), user=user.id, text=text, **fields)

    def edited(self, message: Message, **changes: Any) -> Message:
        return replace(message, edited_ts=self.next_ts(), **changes)

    # -- Slack JSON shapes -----------------------------------------------------------------------------

    def message_dict(self, message: Message) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "user": message.user, "text": message.text}
        if message.subtype:
            out["subtype"] = message.subtype
        if message.bot_id:
            out["bot_id"] = message.bot_id
            out["app_id"] = message.app_id
        if message.client_msg_id:
            out["client_msg_id"] = message.client_msg_id
        if message.blocks:
            out["blocks"] = message.blocks
        out["ts"] = message.ts
        out["team"] = self.team_id
        if message.edited_ts:
            out["edited"] = {"user": message.user, "ts": message.edited_ts}
        if message.thread_ts:
            out["thread_ts"] = message.thread_ts
        if message.is_reply:
            parent = self.find(message.channel, message.thread_ts or "")
            if parent is not None:
                out["parent_user_id"] = parent.user
        replies = [] if message.is_reply else self.replies(message.channel, message.ts)
        if replies:
            out["thread_ts"] = message.ts
            out["reply_count"] = len(replies)
            out["reply_users"] = sorted({r.user for r in replies})
            out["reply_users_count"] = len(out["reply_users"])
            out["latest_reply"] = replies[-1].ts
        return out

    def channel_dict(self, channel: Channel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.private,
            "is_group": channel.private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.private,
            "is_archived": False,
            "is_general": channel.id == self.general,
            "is_member": self.bot_is_member(channel),
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "created": channel.created,
            "creator": "",
            "num_members": len(channel.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }

    def user_dict(self, user: User) -> dict[str, Any]:
        profile: dict[str, Any] = {"real_name": user.name, "display_name": user.name, "team": self.team_id}
        if user.bot_id:
            profile["bot_id"] = user.bot_id
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "real_name": user.name,
            "deleted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "tz": "UTC",
            "tz_offset": 0,
            "profile": profile,
        }

    def activity(self, kind: str, source: str, message: Message) -> Activity:
        channel = self.channels.get(message.channel)
        user = self.users.get(message.user)
        return Activity(
            kind=kind,
            source=source,
            channel=message.channel,
            channel_name=channel.name if channel else message.channel,
            user=message.user,
            user_name=user.name if user else message.user,
            text=message.text,
            ts=message.ts,
            thread_ts=message.thread_ts,
            blocks=message.blocks,
            to_user=message.visible_to,
        )
