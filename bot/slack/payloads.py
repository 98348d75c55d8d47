"""Slack dicts -> typed values. The only place that digs into untyped payloads; anything malformed is None."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.slack.blocks import unescape_mrkdwn

_WORKFLOW_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,31})\s*:(?!//)\s*(.*)$", re.DOTALL)
_HELP = frozenset({"help", "-h", "--help", "?"})


@dataclass(frozen=True, slots=True)
class TaskCommand:
    """``/agent-task [workflow:] task``; ``workflow`` is None when the text names none."""

    workflow: str | None
    task: str


def parse_task(text: str, workflows: Collection[str]) -> TaskCommand | None:
    """The command's text as a task, or None for empty text, ``help``, or a workflow with no task (usage).

    Only a known workflow name before the first colon selects that workflow (``plan: add a health check``);
    anything else (``Re: invoice for ACME``, ``https://...``) is the task itself, for the default workflow.
    """
    text = unescape_mrkdwn(text).strip()
    if not text or text.lower() in _HELP:
        return None
    match = _WORKFLOW_PREFIX.match(text)
    if match is None or match.group(1).lower() not in workflows:
        return TaskCommand(None, text)
    task = match.group(2).strip()
    return TaskCommand(match.group(1).lower(), task) if task else None


@dataclass(frozen=True, slots=True)
class Click:
    """A button click on an approval card, or on its entry in the App Home (``in_home``: no channel, no message).
    Its value names the approval and the digest of what the card showed (``blocks.button_value``); "Approve all"
    names every call it covers."""

    user: str
    action_id: str
    value: str
    channel: str
    message_ts: str

    @property
    def targets(self) -> list[tuple[str, str]]:
        """(approval id, digest prefix) of each approval the click decides; the digest is "" on a card posted
        before clicks carried one."""
        return [(item.partition("|")[0], item.partition("|")[2]) for item in self.value.split(",") if item]

    @property
    def in_home(self) -> bool:
        return not self.channel

    @property
    def approval_id(self) -> str:
        targets = self.targets
        return targets[0][0] if targets else ""

    @property
    def digest(self) -> str:
        targets = self.targets
        return targets[0][1] if targets else ""


def parse_click(body: dict[str, Any]) -> Click | None:
    """A click on a message, or in the App Home (channel and message ts ""); None for anything else."""
    try:
        action = body["actions"][0]
        user = body["user"]["id"]
        if in_home(body):
            channel, message_ts = "", ""
        else:
            channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
            message_ts = (body.get("container") or {}).get("message_ts") or body["message"]["ts"]
        fields = (user, action["action_id"], action.get("value") or "", channel, message_ts)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not all(isinstance(field, str) for field in fields) or not fields[0] or not fields[1]:
        return None
    return Click(*fields)


def in_home(body: dict[str, Any]) -> bool:
    """Whether an interactive payload comes from the App Home: a ``view`` container whose view is a Home tab
    (docs.slack.dev/reference/interaction-payloads/block_actions-payload: ``view`` instead of ``message``)."""
    container, view = body.get("container"), body.get("view")
    return (
        isinstance(container, dict)
        and container.get("type") == "view"
        and isinstance(view, dict)
        and view.get("type") == "home"
    )


def clicker(body: dict[str, Any]) -> tuple[str, str] | None:
    """(user, channel) of any interactive payload, where both can be found, to answer privately; the channel is ""
    for a click in the App Home (answered there)."""
    try:
        user = body["user"]["id"]
        channel = "" if in_home(body) else (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    except (KeyError, TypeError, AttributeError):
        return None
    return (user, channel) if isinstance(user, str) and isinstance(channel, str) else None


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ThreadReply:
    """A person's reply in a thread. ``text`` is as Slack sent it: entity-escaped, with ``<@U…>`` and links."""

    user: str
    channel: str
    thread_ts: str
    ts: str
    text: str
    files: tuple[Attachment, ...] = field(default=())
    parent_user: str = ""
    """Who posted the thread's parent (Slack's ``parent_user_id``): the bot, for a card's thread."""

    def mentions(self, user_id: str) -> bool:
        return f"<@{user_id}>" in self.text or f"<@{user_id}|" in self.text


_REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


def parse_thread_reply(event: dict[str, Any]) -> ThreadReply | None:
    """A person's reply in a thread (plain, also-sent-to-channel, or with files); None for anything else.

    Edits (``message_changed``), deletions and bots' messages are not replies: feedback is what was sent.
    """
    if event.get("subtype") not in _REPLY_SUBTYPES or event.get("bot_id"):
        return None
    user, channel, ts, thread_ts = (event.get(k) for k in ("user", "channel", "ts", "thread_ts"))
    text = event.get("text") or ""
    if not all(isinstance(v, str) and v for v in (user, channel, ts, thread_ts)) or thread_ts == ts:
        return None
    if not isinstance(text, str):
        return None
    files = _files(event.get("files"))
    if not text.strip() and not files:
        return None
    parent = event.get("parent_user_id")
    parent_user = parent if isinstance(parent, str) else ""
    return ThreadReply(user, channel, thread_ts, ts, text, files, parent_user)  # type: ignore[arg-type]


def _files(raw: object) -> tuple[Attachment, ...]:
    if not isinstance(raw, list):
        return ()
    found: list[Attachment] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        name = item.get("name") or item.get("title") or "a file"
        url = item.get("permalink") or item.get("url_private") or ""
        if isinstance(name, str) and isinstance(url, str):
            found.append(Attachment(name, url))
    return tuple(found)


_CONTROL = re.compile(r"<([^<>]*)>")


def mentioned_users(text: str) -> set[str]:
    """The user IDs mentioned in Slack-formatted ``text`` (``<@U…>`` or ``<@U…|name>``)."""
    return {m.group(1)[1:].split("|")[0] for m in _CONTROL.finditer(text) if m.group(1).startswith("@")}


def readable(text: str, names: Mapping[str, str], *, drop: str = "") -> str:
    """Slack-formatted ``text`` as a person reads it, for the agent: mentions become ``@name`` (``@U…`` when the
    name is unknown), links ``label (url)``, channels ``#name``, then entities are decoded. ``drop`` is a user ID
    whose mentions are removed (the bot's own, in "@bot shorter please")."""

    def decode(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            user = target[1:]
            return "" if user == drop else f"@{label or names.get(user) or user}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!subteam^"):
            return label or f"@{target.removeprefix('!subteam^')}"
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return f"@{label or target[1:]}"
        if label and label != target:
            return f"{label} ({target})"
        return target

    decoded = _CONTROL.sub(decode, text)
    return re.sub(r"[ \t]{2,}", " ", unescape_mrkdwn(decoded)).strip()


def feedback_text(reply: ThreadReply, names: Mapping[str, str], *, bot_user_id: str = "") -> str:
    """What the agent is told a reply said: its readable text, then the files it carried."""
    parts = [readable(reply.text, names, drop=bot_user_id)] if reply.text.strip() else []
    parts += [f"[attached file: {f.name}{f' ({f.url})' if f.url else ''}]" for f in reply.files]
    return "\n".join(part for part in parts if part).strip()
