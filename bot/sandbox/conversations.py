"""The conversations.* methods: list, info, join, members, history, replies, open (DMs).

Scopes follow the conversation's type (``scopes.BY_CHANNEL_TYPE``), visibility and membership ``access``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.sandbox import access
from bot.sandbox.methods_base import Answer, ApiError, Params, flag_param, page, text_param
from bot.sandbox.scopes import READ_SCOPES
from bot.sandbox.workspace import Channel, Message

if TYPE_CHECKING:
    from bot.sandbox.methods import Methods

# conversations.list `types` -> the kind of conversation it lists (docs.slack.dev/reference/methods/conversations.list)
LIST_TYPES = {"public_channel": "public", "private_channel": "private", "im": "im", "mpim": "mpim"}


class Conversations:
    def __init__(self, methods: Methods) -> None:
        self.m = methods
        self.ws = methods.ws
        self.grants = methods.grants

    def table(self) -> dict[str, Callable[[Params], Answer]]:
        return {
            "conversations.list": self.list,
            "conversations.info": self.info,
            "conversations.join": self.join,
            "conversations.members": self.members,
            "conversations.history": self.history,
            "conversations.replies": self.replies,
            "conversations.open": self.open,
        }

    def _seen(self, method: str, params: Params) -> Channel:
        """The conversation named by ``channel`` (an ID), visible to the bot, with the scope ``method`` needs."""
        channel = access.readable(self.m.find(params, by_name=False), self.ws.bot)
        self.grants.require_for(method, channel.kind)
        return channel

    def list(self, params: Params) -> Answer:
        kinds = []
        for name in (text_param(params, "types") or "public_channel").split(","):
            kind = LIST_TYPES.get(name.strip())
            if kind is None:
                raise ApiError("invalid_types")
            self.grants.require(READ_SCOPES[kind])  # each listed type needs its read scope
            kinds.append(kind)
        exclude_archived = flag_param(params, "exclude_archived")
        visible = [
            c
            for c in self.ws.channels.values()
            if c.kind in kinds and access.visible(c, self.ws.bot) and not (exclude_archived and c.archived)
        ]
        channels, cursor = page(visible, params)
        return {
            "channels": [self.ws.channel_dict(c) for c in channels],
            "response_metadata": {"next_cursor": cursor},
        }

    def info(self, params: Params) -> Answer:
        return {"channel": self.ws.channel_dict(self._seen("conversations.info", params))}

    def join(self, params: Params) -> Answer:
        channel = self.m.find(params, by_name=False)
        if channel is None or (channel.kind != "public" and not access.visible(channel, self.ws.bot)):
            raise ApiError("channel_not_found")
        if channel.kind != "public":
            raise ApiError("method_not_supported_for_channel_type")
        if channel.archived:
            raise ApiError("is_archived")  # OpenAPI spec: conversations.join errors
        answer: Answer = {}
        if self.ws.bot_is_member(channel):
            answer = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        channel.members.add(self.ws.bot.id)
        self.m.recorder.changed()
        return {"channel": self.ws.channel_dict(channel), **answer}

    def members(self, params: Params) -> Answer:
        channel = self._seen("conversations.members", params)
        members, cursor = page(sorted(channel.members), params)
        return {"members": members, "response_metadata": {"next_cursor": cursor}}

    def _message_dict(self, message: Message, params: Params) -> dict[str, object]:
        out = self.ws.message_dict(message)
        if not flag_param(params, "include_all_metadata"):
            out.pop("metadata", None)  # conversations.history/replies: metadata only with include_all_metadata
        return out

    def history(self, params: Params) -> Answer:
        channel = access.history(self._seen("conversations.history", params), self.ws.bot)
        newest_first = list(reversed(self.ws.top_level(channel.id)))
        messages, cursor = page(newest_first, params)
        return {
            "messages": [self._message_dict(m, params) for m in messages],
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def replies(self, params: Params) -> Answer:
        channel = access.history(self._seen("conversations.replies", params), self.ws.bot)
        found = self.ws.find(channel.id, text_param(params, "ts") or "")
        if found is None:
            raise ApiError("thread_not_found")
        parent = self.ws.find(channel.id, found.thread_ts or "") if found.is_reply else found
        thread = ([parent] if parent else []) + self.ws.replies(channel.id, found.thread_ts or found.ts)
        messages, cursor = page(thread, params, default_limit=1000)
        return {
            "messages": [self._message_dict(m, params) for m in messages],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def open(self, params: Params) -> Answer:
        """An im with one user (scope im:write). Slack answers ``{"channel": {"id": "D…"}}``, the whole
        conversation only with ``return_im=true``, and ``no_op``/``already_open`` when it existed
        (docs.slack.dev/reference/methods/conversations.open)."""
        existing = text_param(params, "channel")
        if existing is not None:
            channel = access.readable(self.ws.channels.get(existing), self.ws.bot)
            return {"channel": self._im_answer(channel, params), "no_op": True, "already_open": True}
        users = [u.strip() for u in (text_param(params, "users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            self.grants.require("mpim:write")
            raise ApiError("method_not_supported_for_channel_type")  # group DMs are not emulated
        self.grants.require("im:write")
        user = self.ws.users.get(users[0])
        if user is None:
            raise ApiError("user_not_found")
        channel, was_open = self.ws.open_im(user)
        self.m.recorder.changed()
        answer: Answer = {"channel": self._im_answer(channel, params)}
        if was_open:
            answer.update(no_op=True, already_open=True)
        return answer

    def _im_answer(self, channel: Channel, params: Params) -> dict[str, object]:
        return self.ws.channel_dict(channel) if flag_param(params, "return_im") else {"id": channel.id}
