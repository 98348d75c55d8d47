"""What one person sees in the sandbox page, as JSON-ready data: the sidebar, each conversation's messages
(with their threads and the viewer's own ephemerals), their modal and their App Home.

Pure reads of the emulator's state, no I/O. Text and blocks go out exactly as Slack stores them (entity-escaped
mrkdwn, raw Block Kit): the page builds its DOM from them with text nodes only, and ``dumps`` escapes ``<``,
``>`` and ``&`` inside the JSON as well, so no answer of the page's server carries message text as markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.sandbox.entities import Channel, Message

if TYPE_CHECKING:
    from bot.sandbox.emulator import SlackEmulator

Data = dict[str, Any]
FIRST_CHANNELS = ("general", "approvals")  # always in the sidebar, in this order
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def dumps(data: Any) -> str:
    """JSON with ``<``, ``>`` and ``&`` written as ``\\u`` escapes: the same value, never markup in any context."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_JSON_ESCAPES)


def people(slack: SlackEmulator) -> list[Data]:
    """Everyone the page can be used as: every workspace user but the bot, in the order they were added."""
    return [{"id": u.id, "name": u.name} for u in slack.workspace.users.values() if not u.is_bot]


def snapshot(slack: SlackEmulator, viewer: str, hints: Iterable[str] = ()) -> Data:
    """Everything the page shows ``viewer`` (a user id from ``people``)."""
    ws = slack.workspace
    own = ws.ephemerals(viewer)
    channels = sidebar(slack, viewer, {m.channel for m in own})
    return {
        "team": ws.team_name,
        "domain": f"{ws.team_domain}.slack.com",
        "viewer": viewer,
        "bot": {"id": ws.bot.id, "name": ws.bot.name},
        "people": people(slack),
        "names": {
            "users": {u.id: u.name for u in ws.users.values()},
            "channels": {c.id: c.name for c in ws.channels.values() if not c.is_im},
            "usergroups": {g.id: g.handle for g in ws.usergroups.values()},
        },
        "channels": [conversation(slack, channel, [m for m in own if m.channel == channel.id]) for channel in channels],
        "modal": modal(slack, viewer),
        "home": home(slack, viewer),
        "hints": list(hints),
        "connected": reachable(slack),
    }


def reachable(slack: SlackEmulator) -> bool:
    """Whether what a person does can reach the app now: a Socket Mode connection is open, or (HTTP mode) a
    Request URL is set."""
    return bool(slack.connections) or (slack.http_mode and bool(slack.request_urls))


def sidebar(slack: SlackEmulator, viewer: str, with_ephemerals: set[str]) -> list[Channel]:
    """#general and #approvals, then the other channels the viewer is in (or was shown something in), then
    the viewer's DM with the bot once the bot opened it."""
    ws = slack.workspace
    rooms = [c for c in ws.channels.values() if not c.is_im]
    first = [c for name in FIRST_CHANNELS for c in rooms if c.name == name and (not c.private or viewer in c.members)]
    others = sorted(
        (c for c in rooms if c not in first and (viewer in c.members or c.id in with_ephemerals)), key=lambda c: c.name
    )
    dm = ws.im_with(viewer)
    return first + others + ([dm] if dm is not None else [])


def conversation(slack: SlackEmulator, channel: Channel, ephemerals: list[Message]) -> Data:
    """One conversation of the sidebar: its top-level messages in order, the viewer's ephemerals among them, and
    each message's thread."""
    ws = slack.workspace
    shown = ws.top_level(channel.id) + [m for m in ephemerals if not m.is_reply]
    messages = []
    for message in sorted(shown, key=lambda m: float(m.ts)):
        entry = message_data(slack, message)
        if message.visible_to is None:
            replies = ws.replies(channel.id, message.ts) + [e for e in ephemerals if e.thread_ts == message.ts]
            entry["replies"] = [message_data(slack, r) for r in sorted(replies, key=lambda m: float(m.ts))]
            entry["reply_count"] = len(ws.replies(channel.id, message.ts))
        messages.append(entry)
    return {
        "id": channel.id,
        "name": ws.bot.name if channel.is_im else channel.name,
        "kind": channel.kind,
        "archived": channel.archived,
        "messages": messages,
    }


def message_data(slack: SlackEmulator, message: Message) -> Data:
    author = slack.workspace.users.get(message.user)
    return {
        "ts": message.ts,
        "thread_ts": message.thread_ts,
        "user": message.user,
        "user_name": author.name if author is not None else message.user,
        "is_bot": bool(message.bot_id),
        "text": message.text,
        "blocks": message.blocks,
        "edited": message.edited_ts is not None,
        "ephemeral": message.visible_to is not None,
        "files": [str(f.get("name", "file")) for f in message.files],
    }


def modal(slack: SlackEmulator, viewer: str) -> Data | None:
    """The view the viewer sees of their modal (the top of its stack), or None."""
    stack = slack.open_views(viewer)
    if not stack:
        return None
    view = stack[-1]
    body = view.body
    return {
        "id": view.id,
        "hash": body["hash"],
        "title": body["title"],
        "submit": body.get("submit"),
        "close": body.get("close"),
        "blocks": body["blocks"],
        "values": body["state"]["values"],
        "errors": dict(view.errors),
        "shown_error": view.shown_error,
        "depth": len(stack),
    }


def home(slack: SlackEmulator, viewer: str) -> Data | None:
    """The viewer's published App Home view (its ``blocks``), or None before the app published one."""
    view = slack.home_view(viewer)
    return None if view is None else {"id": view["id"], "hash": view.get("hash"), "blocks": view["blocks"]}
