"""The things a workspace holds: users, conversations, user groups and messages (pure data)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

USER_PREFIXES = ("U", "W")  # W: Enterprise Grid user IDs (docs.slack.dev/enterprise, "global user IDs")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    is_bot: bool = False
    bot_id: str | None = None


@dataclass(slots=True)
class Channel:
    """A conversation: a public or private channel, or an im (a DM, ``D…``) with ``user``."""

    id: str
    name: str
    private: bool = False
    members: set[str] = field(default_factory=set)
    created: int = field(default_factory=lambda: int(time.time()))
    is_im: bool = False
    user: str | None = None
    archived: bool = False

    @property
    def kind(self) -> str:
        """``public``, ``private`` or ``im``: what decides the scopes a method needs on it."""
        return "im" if self.is_im else "private" if self.private else "public"

    @property
    def channel_type(self) -> str:
        """The ``channel_type`` of message events: ``channel``, ``group`` (private) or ``im``."""
        return {"public": "channel", "private": "group", "im": "im"}[self.kind]


@dataclass(slots=True)
class Usergroup:
    """A user group (``S…``), mentioned as ``<!subteam^S…>``."""

    id: str
    handle: str
    users: list[str] = field(default_factory=list)


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
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts
