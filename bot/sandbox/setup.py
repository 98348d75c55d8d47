"""Setting up the emulated workspace: people, channels, user groups, membership; and the ids a test reads back.

A base of ``SlackEmulator``; every change tells the recorder, so observers (the sandbox page) redraw.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.sandbox.recorder import Recorder
from bot.sandbox.scopes import Grants
from bot.sandbox.workspace import Channel, Workspace


class WorkspaceSetup:
    workspace: Workspace
    recorder: Recorder
    grants: Grants

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def enterprise_id(self) -> str | None:
        return self.workspace.enterprise_id

    @property
    def scopes(self) -> frozenset[str]:
        return self.grants.scopes

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
        """A person; ``user_id`` may be given (``U…``, or ``W…`` as on Enterprise Grid)."""
        user_id = self.workspace.add_user(name, user_id).id
        self.recorder.changed()
        return user_id

    def add_channel(self, name: str, private: bool = False, members: Iterable[str] = ()) -> str:
        """A new channel; list ``slack.bot_user_id`` in ``members`` to make the bot a member."""
        channel_id = self.workspace.add_channel(name, private=private, members=tuple(members)).id
        self.recorder.changed()
        return channel_id

    def add_usergroup(self, handle: str, members: Iterable[str]) -> str:
        """A user group (``S…``), for ``usergroups.users.list`` and ``<!subteam^S…>`` mentions."""
        group_id = self.workspace.add_usergroup(handle, tuple(members)).id
        self.recorder.changed()
        return group_id

    def add_usergroup_member(self, group_id: str, user_id: str) -> None:
        """Someone joins a user group (what an admin does in Slack while the bot runs)."""
        members = self.workspace.usergroups[group_id].users
        if user_id not in members:
            members.append(user_id)
        self.recorder.changed()

    def join(self, channel: str, user_id: str | None = None) -> None:
        """Add a user (the bot by default) to a channel."""
        self._channel(channel).members.add(user_id or self.bot_user_id)
        self.recorder.changed()

    def leave(self, channel: str, user_id: str | None = None) -> None:
        """Remove a user (the bot by default) from a channel."""
        self._channel(channel).members.discard(user_id or self.bot_user_id)
        self.recorder.changed()

    def archive(self, channel: str) -> None:
        """Archive a channel: nothing can be posted there any more (``is_archived``)."""
        self._channel(channel).archived = True
        self.recorder.changed()

    def channel_id(self, name: str) -> str:
        return self._channel(name).id

    def dm_with(self, user_id: str) -> str | None:
        """The id of the bot's DM (im) with ``user_id``, once the bot opened it with conversations.open."""
        channel = self.workspace.im_with(user_id)
        return channel.id if channel is not None else None

    def _channel(self, ref: str) -> Channel:
        channel = self.workspace.find_channel(ref)
        if channel is None:
            raise LookupError(f"no channel {ref!r}")
        return channel

    def _channel_key(self, ref: str) -> str:
        channel = self.workspace.find_channel(ref)
        return channel.id if channel is not None else ref
