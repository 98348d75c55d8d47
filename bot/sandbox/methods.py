"""The Web API methods, as plain functions of (already authenticated) parameters to Slack's JSON answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bot.sandbox import payloads
from bot.sandbox.blockkit import check_blocks, with_block_ids
from bot.sandbox.recorder import Recorder
from bot.sandbox.workspace import Channel, Message, User, Workspace

Params = dict[str, Any]
Answer = dict[str, Any]
Echo = Callable[[Channel, dict[str, Any]], None]
T = TypeVar("T")

MAX_TEXT = 40_000


class ApiError(Exception):
    """A Slack API error: HTTP 200 with ``{"ok": false, "error": ...}`` plus any extra keys."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def text_param(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    return str(value)


def flag_param(params: Params, key: str) -> bool:
    value = params.get(key)
    return value is True or str(value).lower() in ("true", "1")


def blocks_param(params: Params) -> list[dict[str, Any]] | None:
    """``blocks`` as a list (JSON bodies send a list, form bodies a JSON string); None when absent."""
    raw = params.get("blocks")
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError:
            raise ApiError("invalid_blocks_format") from None
    if not isinstance(raw, list):
        raise ApiError("invalid_blocks_format")
    errors = check_blocks(raw)
    if errors:
        raise ApiError("invalid_blocks", errors=errors)
    return with_block_ids(raw)


def page(items: Sequence[T], params: Params, default_limit: int = 100) -> tuple[list[T], str]:
    """Cursor pagination: a page of ``items`` and the next cursor (``""`` on the last page)."""
    try:
        limit = int(params.get("limit") or default_limit)
        cursor = text_param(params, "cursor")
        start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    limit = max(1, min(limit, 1000))
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return list(items[start:end]), next_cursor


class Methods:
    """Every supported method by name. ``echo`` delivers an event to the app (if it may see the channel)."""

    def __init__(
        self, ws: Workspace, recorder: Recorder, echo: Echo, origin: Callable[[], str], ticket: Callable[[], str]
    ) -> None:
        self.ws = ws
        self.recorder = recorder
        self.echo = echo
        self.origin = origin
        self.ticket = ticket
        self.views: list[dict[str, Any]] = []
        self.table: dict[str, Callable[[Params], Answer]] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self.auth_test,
            "apps.connections.open": self.connections_open,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.delete": self.delete,
            "chat.postEphemeral": self.post_ephemeral,
            "conversations.list": self.conversations_list,
            "conversations.info": lambda p: {"channel": self.ws.channel_dict(self.readable(p))},
            "conversations.join": self.join,
            "conversations.members": self.members,
            "conversations.history": self.history,
            "conversations.replies": self.replies,
            "users.info": lambda p: {"user": self.ws.user_dict(self.user(p, "user"))},
            "views.open": self.views_open,
        }

    # -- lookups ---------------------------------------------------------------------------------------

    def channel(self, params: Params, *, by_name: bool = True) -> Channel:
        ref = text_param(params, "channel") or ""
        channel = self.ws.find_channel(ref) if by_name else self.ws.channels.get(ref)
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def readable(self, params: Params) -> Channel:
        channel = self.channel(params, by_name=False)
        if channel.private and not self.ws.bot_is_member(channel):
            raise ApiError("channel_not_found")
        return channel

    def writable(self, params: Params, *, by_name: bool = True) -> Channel:
        channel = self.channel(params, by_name=by_name)
        if channel.private and not self.ws.bot_is_member(channel):
            raise ApiError("not_in_channel")
        return channel

    def user(self, params: Params, key: str) -> User:
        user = self.ws.users.get(text_param(params, key) or "")
        if user is None:
            raise ApiError("user_not_found")
        return user

    def content(self, params: Params) -> tuple[str, list[dict[str, Any]]]:
        text = text_param(params, "text") or ""
        blocks = blocks_param(params)
        if not text and not blocks and not params.get("attachments"):
            raise ApiError("no_text")
        if len(text) > MAX_TEXT:
            raise ApiError("msg_too_long")
        return text, blocks or []

    # -- methods ---------------------------------------------------------------------------------------

    def auth_test(self, params: Params) -> Answer:
        return {
            "url": f"{self.origin()}/",
            "team": self.ws.team_name,
            "user": self.ws.bot.name,
            "team_id": self.ws.team_id,
            "user_id": self.ws.bot.id,
            "bot_id": self.ws.bot.bot_id,
            "is_enterprise_install": False,
        }

    def connections_open(self, params: Params) -> Answer:
        ws_origin = self.origin().replace("http://", "ws://", 1)
        return {"url": f"{ws_origin}/link/?ticket={self.ticket()}&app_id={self.ws.app_id}"}

    def post_message(self, params: Params) -> Answer:
        channel = self.writable(params)
        text, blocks = self.content(params)
        thread_ts = text_param(params, "thread_ts")
        if thread_ts is not None:
            parent = self.ws.find(channel.id, thread_ts)
            if parent is None:
                raise ApiError("thread_not_found")
            thread_ts = parent.thread_ts if parent.is_reply else parent.ts
        broadcast = thread_ts is not None and flag_param(params, "reply_broadcast")
        message = self.ws.new_message(
            channel,
            self.ws.bot,
            text,
            blocks=blocks,
            thread_ts=thread_ts,
            subtype="thread_broadcast" if broadcast else None,
        )
        self.publish(channel, message, "chat.postMessage")
        return {"channel": channel.id, "ts": message.ts, "message": self.ws.message_dict(message)}

    def publish(self, channel: Channel, message: Message, source: str) -> None:
        """Store a new channel message, tell observers and echo it to the app."""
        self.ws.store(message)
        self.recorder.emit(self.ws.activity("message", source, message))
        self.echo(channel, payloads.message_event(self.ws, channel, message))

    def revise(self, channel: Channel, old: Message, new: Message, source: str) -> None:
        """Store an edited message, tell observers and echo ``message_changed`` to the app."""
        self.ws.store(new)
        self.recorder.emit(self.ws.activity("update", source, new))
        self.echo(channel, payloads.message_changed_event(self.ws, channel, old, new))

    def editable(self, params: Params, error: str) -> tuple[Channel, Message]:
        channel = self.writable(params, by_name=False)
        old = self.ws.find(channel.id, text_param(params, "ts") or "")
        if old is None:
            raise ApiError("message_not_found")
        if old.user != self.ws.bot.id:
            raise ApiError(error)
        return channel, old

    def update(self, params: Params) -> Answer:
        channel, old = self.editable(params, "cant_update_message")
        text = text_param(params, "text")
        blocks = blocks_param(params)
        new_text = old.text if text is None else text
        new_blocks = old.blocks if blocks is None else blocks
        if not new_text and not new_blocks:
            raise ApiError("no_text")
        new = self.ws.edited(old, text=new_text, blocks=new_blocks)
        self.revise(channel, old, new, "chat.update")
        message = self.ws.message_dict(new)
        return {"channel": channel.id, "ts": new.ts, "text": new.text, "message": message}

    def delete(self, params: Params) -> Answer:
        channel, old = self.editable(params, "cant_delete_message")
        self.ws.delete(channel.id, old.ts)
        self.recorder.emit(self.ws.activity("delete", "chat.delete", old))
        self.echo(channel, payloads.message_deleted_event(self.ws, channel, old))
        return {"channel": channel.id, "ts": old.ts}

    def post_ephemeral(self, params: Params) -> Answer:
        channel = self.writable(params)
        user = self.user(params, "user")
        if channel.private and user.id not in channel.members:
            raise ApiError("user_not_in_channel")
        text, blocks = self.content(params)
        message = self.ws.new_message(
            channel, self.ws.bot, text, blocks=blocks, thread_ts=text_param(params, "thread_ts"), visible_to=user.id
        )
        self.ws.store(message)
        self.recorder.emit(self.ws.activity("ephemeral", "chat.postEphemeral", message))
        return {"message_ts": message.ts}

    def conversations_list(self, params: Params) -> Answer:
        types = set((text_param(params, "types") or "public_channel").split(","))
        visible = [
            c
            for c in self.ws.channels.values()
            if ("private_channel" if c.private else "public_channel") in types
            and (not c.private or self.ws.bot_is_member(c))
        ]
        channels, cursor = page(visible, params)
        return {
            "channels": [self.ws.channel_dict(c) for c in channels],
            "response_metadata": {"next_cursor": cursor},
        }

    def join(self, params: Params) -> Answer:
        channel = self.channel(params, by_name=False)
        if channel.private:
            raise ApiError("method_not_supported_for_channel_type")
        answer: Answer = {}
        if self.ws.bot_is_member(channel):
            answer = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        channel.members.add(self.ws.bot.id)
        return {"channel": self.ws.channel_dict(channel), **answer}

    def members(self, params: Params) -> Answer:
        channel = self.readable(params)
        members, cursor = page(sorted(channel.members), params)
        return {"members": members, "response_metadata": {"next_cursor": cursor}}

    def history(self, params: Params) -> Answer:
        channel = self.readable(params)
        newest_first = list(reversed(self.ws.top_level(channel.id)))
        messages, cursor = page(newest_first, params)
        return {
            "messages": [self.ws.message_dict(m) for m in messages],
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def replies(self, params: Params) -> Answer:
        channel = self.readable(params)
        found = self.ws.find(channel.id, text_param(params, "ts") or "")
        if found is None:
            raise ApiError("thread_not_found")
        parent = self.ws.find(channel.id, found.thread_ts or "") if found.is_reply else found
        thread = ([parent] if parent else []) + self.ws.replies(channel.id, found.thread_ts or found.ts)
        messages, cursor = page(thread, params, default_limit=1000)
        return {
            "messages": [self.ws.message_dict(m) for m in messages],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def views_open(self, params: Params) -> Answer:
        if not text_param(params, "trigger_id"):
            raise ApiError("invalid_arguments")
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise ApiError("invalid_arguments") from None
        if not isinstance(view, dict):
            raise ApiError("invalid_arguments")
        opened = {
            **view,
            "id": f"V0SBX{len(self.views) + 1:05d}",
            "team_id": self.ws.team_id,
            "app_id": self.ws.app_id,
            "bot_id": self.ws.bot.bot_id,
            "state": {"values": {}},
            "hash": self.ws.next_ts(),
        }
        self.views.append(opened)
        self.recorder.changed()
        return {"view": opened}
