"""In-memory state of one emulated Slack workspace: users, channels, messages, threads, ephemerals.

No I/O and no asyncio here; the Web API and the emulator read and change it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

from bot.sandbox.entities import USER_PREFIXES, Channel, Message, User, Usergroup
from bot.sandbox.records import Activity

__all__ = ["Channel", "Message", "User", "Usergroup", "Workspace"]


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
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
    ) -> None:
        self.team_id = team_id
        self.enterprise_id = enterprise_id
        self.enterprise_name = enterprise_name or (f"{team_name} Grid" if enterprise_id else None)
        self.team_name = team_name
        self.team_domain = team_name.lower().replace(" ", "-")
        self.bot = User(bot_user_id, bot_name, is_bot=True, bot_id=bot_id)
        self.app_id = app_id
        self.users: dict[str, User] = {bot_user_id: self.bot}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self._ims: dict[str, str] = {}  # user id -> the bot's im with them
        # Messages by channel (ephemerals by user), each keyed by ts in posting order, and replies by thread:
        # lookups stay O(1) however many messages a long test or benchmark piles up.
        self._messages: dict[str, dict[str, Message]] = {}
        self._ephemerals: dict[str, dict[str, Message]] = {}
        self._threads: dict[tuple[str, str], dict[str, Message]] = {}
        self._last_us = 0
        self._counter = 0
        self.general = self.add_channel("general").id

    # -- ids -------------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A new message ts: ``"<seconds>.<6 digits>"``, unique and strictly increasing."""
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        """A fresh id such as ``U0SBX00003`` (users), ``D…`` (ims), ``S…`` (user groups), ``F…`` (files)."""
        return self._next_id(prefix)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}0SBX{self._counter:05d}"

    # -- users and channels ----------------------------------------------------------------------------

    def add_user(self, name: str, user_id: str | None = None) -> User:
        if any(u.name == name for u in self.users.values()):
            raise ValueError(f"a user named {name!r} already exists")
        if user_id is not None and not user_id.startswith(USER_PREFIXES):
            raise ValueError(f"user ids start with U (or W on Enterprise Grid), not {user_id!r}")
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
        self._messages[channel.id] = {}
        return channel

    def add_usergroup(self, handle: str, users: tuple[str, ...]) -> Usergroup:
        unknown = [u for u in users if u not in self.users]
        if unknown:
            raise ValueError(f"unknown members {unknown}")
        group = Usergroup(self._next_id("S"), handle.removeprefix("@"), list(users))
        self.usergroups[group.id] = group
        return group

    def im_with(self, user_id: str) -> Channel | None:
        channel_id = self._ims.get(user_id)
        return self.channels[channel_id] if channel_id else None

    def open_im(self, user: User) -> tuple[Channel, bool]:
        """The bot's im with ``user``, opened if needed; and whether it was open already."""
        existing = self.im_with(user.id)
        if existing is not None:
            return existing, True
        channel = Channel(self._next_id("D"), user.id, members={self.bot.id, user.id}, is_im=True, user=user.id)
        self.channels[channel.id] = channel
        self._messages[channel.id] = {}
        self._ims[user.id] = channel.id
        return channel, False

    def find_channel(self, ref: str) -> Channel | None:
        """A channel by ID, ``#name`` or ``name``."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def bot_is_member(self, channel: Channel) -> bool:
        return self.bot.id in channel.members

    # -- messages --------------------------------------------------------------------------------------

    def store(self, message: Message) -> Message:
        """Add a new message, or replace the stored one with the same channel and ts (keeping its place)."""
        if message.visible_to is not None:
            self._ephemerals.setdefault(message.visible_to, {})[message.ts] = message
            return message
        messages = self._messages[message.channel]
        old = messages.get(message.ts)
        if old is not None and old.is_reply and (not message.is_reply or old.thread_ts != message.thread_ts):
            self._threads.get((old.channel, old.thread_ts or ""), {}).pop(old.ts, None)
        messages[message.ts] = message
        if message.is_reply:
            self._threads.setdefault((message.channel, message.thread_ts or ""), {})[message.ts] = message
        return message

    def delete(self, channel_id: str, ts: str) -> Message | None:
        found = self._messages.get(channel_id, {}).pop(ts, None)
        if found is not None and found.is_reply:
            self._threads.get((channel_id, found.thread_ts or ""), {}).pop(ts, None)
        return found

    def find(self, channel_id: str, ts: str) -> Message | None:
        return self._messages.get(channel_id, {}).get(ts)

    def find_ephemeral(self, user_id: str, ts: str) -> Message | None:
        return self._ephemerals.get(user_id, {}).get(ts)

    def top_level(self, channel_id: str) -> list[Message]:
        messages = self._messages.get(channel_id, {}).values()
        return [m for m in messages if not m.is_reply or m.subtype == "thread_broadcast"]

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        return list(self._threads.get((channel_id, thread_ts), {}).values())

    def ephemerals(self, user_id: str) -> list[Message]:
        return list(self._ephemerals.get(user_id, {}).values())

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
        if message.files:
            out["files"] = message.files
            out["upload"] = False
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
        if message.metadata is not None:
            out["metadata"] = message.metadata
        return out

    def channel_dict(self, channel: Channel) -> dict[str, Any]:
        if (
            channel.is_im
        ):  # the shape of an im in conversations.info (docs.slack.dev/reference/objects/conversation-object)
            return {
                "id": channel.id,
                "created": channel.created,
                "is_im": True,
                "is_org_shared": False,
                "context_team_id": self.team_id,
                "user": channel.user,
                "is_user_deleted": False,
                "is_open": True,
                "priority": 0,
            }
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.private,
            "is_group": channel.private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.private,
            "is_archived": channel.archived,
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
            **self._enterprise_user(user),
        }

    def _enterprise_user(self, user: User) -> dict[str, Any]:
        """Enterprise Grid adds ``enterprise_user`` to user objects (docs.slack.dev/reference/objects/user-object)."""
        if self.enterprise_id is None:
            return {}
        return {
            "enterprise_user": {
                "id": user.id,
                "enterprise_id": self.enterprise_id,
                "enterprise_name": self.enterprise_name,
                "is_admin": False,
                "is_owner": False,
                "teams": [self.team_id],
            }
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
