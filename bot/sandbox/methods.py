"""The Web API methods, as plain functions of (already authenticated) parameters to Slack's JSON answers.

This module holds the chat.* methods and the table of every method; conversations.* are in
``conversations``, users.* and usergroups.* in ``directory``, views.* in ``modals``. Membership rules are in
``access``, scopes in ``scopes`` (checked here, per method and per conversation type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox import access, payloads
from bot.sandbox.conversations import Conversations
from bot.sandbox.directory import Directory
from bot.sandbox.methods_base import (
    Answer,
    ApiError,
    Params,
    blocks_param,
    content,
    flag_param,
    metadata_param,
    text_param,
)
from bot.sandbox.modals import Modals
from bot.sandbox.recorder import Recorder
from bot.sandbox.scopes import Grants
from bot.sandbox.workspace import Channel, Message, User, Workspace

__all__ = ["ApiError", "Methods", "flag_param", "text_param"]

Echo = Callable[[Channel, dict[str, Any]], None]


class Methods:
    """Every supported method by name. ``echo`` delivers an event to the app (if it may see the channel)."""

    def __init__(
        self,
        ws: Workspace,
        recorder: Recorder,
        echo: Echo,
        origin: Callable[[], str],
        ticket: Callable[[], str],
        grants: Grants,
        modals: Modals,
    ) -> None:
        self.ws = ws
        self.recorder = recorder
        self.echo = echo
        self.origin = origin
        self.ticket = ticket
        self.grants = grants
        self.socket_mode_enabled = True
        self.modals = modals
        self.table: dict[str, Callable[[Params], Answer]] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self.auth_test,
            "apps.connections.open": self.connections_open,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.delete": self.delete,
            "chat.postEphemeral": self.post_ephemeral,
            "chat.getPermalink": self.permalink,
            **modals.table(),
            **Conversations(self).table(),
            **Directory(self).table(),
        }

    # -- lookups ---------------------------------------------------------------------------------------

    def find(self, params: Params, *, by_name: bool = True) -> Channel | None:
        ref = text_param(params, "channel") or ""
        return self.ws.find_channel(ref) if by_name else self.ws.channels.get(ref)

    def user(self, params: Params, key: str) -> User:
        user = self.ws.users.get(text_param(params, key) or "")
        if user is None:
            raise ApiError("user_not_found")
        return user

    # -- auth and Socket Mode --------------------------------------------------------------------------

    def auth_test(self, params: Params) -> Answer:
        answer: Answer = {
            "url": f"{self.origin()}/",
            "team": self.ws.team_name,
            "user": self.ws.bot.name,
            "team_id": self.ws.team_id,
            "user_id": self.ws.bot.id,
            "bot_id": self.ws.bot.bot_id,
            "is_enterprise_install": False,
        }
        if self.ws.enterprise_id:
            answer["enterprise_id"] = self.ws.enterprise_id
        return answer

    def connections_open(self, params: Params) -> Answer:
        if not self.socket_mode_enabled:
            # No error is documented for an app whose Socket Mode is off; access_denied is the documented
            # "Access to a resource specified in the request is denied" (docs.slack.dev/reference/methods/
            # apps.connections.open, Errors).
            raise ApiError("access_denied")
        ws_origin = self.origin().replace("http://", "ws://", 1)
        return {"url": f"{ws_origin}/link/?ticket={self.ticket()}&app_id={self.ws.app_id}"}

    # -- chat ------------------------------------------------------------------------------------------

    def post_message(self, params: Params) -> Answer:
        channel = access.writable(self.find(params), self.ws.bot, self.grants)
        text, blocks = content(params)
        metadata = metadata_param(params)
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
            metadata=metadata,
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
        channel = access.writable(self.find(params, by_name=False), self.ws.bot, self.grants)
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
        content({"text": new_text})  # the same length limit as a new message
        metadata = metadata_param(params)
        changes: dict[str, Any] = {"text": new_text, "blocks": new_blocks}
        if metadata is not None:
            changes["metadata"] = metadata
        new = self.ws.edited(old, **changes)
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
        found = self.find(params)
        user = self.user(params, "user")
        channel = access.ephemeral_target(found, self.ws.bot, user)
        text, blocks = content(params)
        message = self.ws.new_message(
            channel, self.ws.bot, text, blocks=blocks, thread_ts=text_param(params, "thread_ts"), visible_to=user.id
        )
        self.ws.store(message)
        self.recorder.emit(self.ws.activity("ephemeral", "chat.postEphemeral", message))
        return {"message_ts": message.ts}

    def permalink(self, params: Params) -> Answer:
        """``https://<domain>.slack.com/archives/<channel>/p<ts without the dot>``; a reply adds
        ``?thread_ts=<parent ts>&cid=<channel>`` (docs.slack.dev/reference/methods/chat.getPermalink)."""
        channel = access.readable(self.find(params, by_name=False), self.ws.bot)
        message = self.ws.find(channel.id, text_param(params, "message_ts") or "")
        if message is None:
            raise ApiError("message_not_found")
        link = f"https://{self.ws.team_domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}
