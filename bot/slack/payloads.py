"""Slack dicts -> typed values. The only place that digs into untyped payloads; anything malformed is None."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.slack.blocks import unescape_mrkdwn

_WORKFLOW_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,31})\s*:(?!//)\s*(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TaskCommand:
    """``/agent-task [workflow:] task``; ``workflow`` is None when the text names none."""

    workflow: str | None
    task: str


def parse_task(text: str) -> TaskCommand | None:
    """The command's text as a task, or None for empty text, ``help``, or a workflow with no task (usage).

    ``name: task`` names a workflow when ``name`` is one word (a URL such as ``https://...`` is not one). The
    caller checks the name, so a typo is answered rather than run with the default workflow.
    """
    text = unescape_mrkdwn(text).strip()
    if not text or text.lower() in {"help", "-h", "--help", "?"}:
        return None
    match = _WORKFLOW_PREFIX.match(text)
    if match is None:
        return TaskCommand(None, text)
    task = match.group(2).strip()
    return TaskCommand(match.group(1).lower(), task) if task else None


@dataclass(frozen=True, slots=True)
class Click:
    """A button click on an approval card."""

    user: str
    action_id: str
    approval_id: str
    channel: str
    message_ts: str


def parse_click(body: dict[str, Any]) -> Click | None:
    try:
        action = body["actions"][0]
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
        message_ts = (body.get("container") or {}).get("message_ts") or body["message"]["ts"]
        fields = (user, action["action_id"], action.get("value") or "", channel, message_ts)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not all(isinstance(field, str) for field in fields) or not fields[0] or not fields[1]:
        return None
    return Click(*fields)


def clicker(body: dict[str, Any]) -> tuple[str, str] | None:
    """(user, channel) of any interactive payload, where both can be found, to answer privately."""
    try:
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    except (KeyError, TypeError, AttributeError):
        return None
    return (user, channel) if isinstance(user, str) and isinstance(channel, str) else None


@dataclass(frozen=True, slots=True)
class ThreadReply:
    user: str
    channel: str
    thread_ts: str
    text: str


def parse_thread_reply(event: dict[str, Any]) -> ThreadReply | None:
    """A person's reply in a thread (plain or also-sent-to-channel); None for anything else."""
    if event.get("subtype") not in (None, "thread_broadcast") or event.get("bot_id"):
        return None
    user, channel, ts, thread_ts = (event.get(k) for k in ("user", "channel", "ts", "thread_ts"))
    text = event.get("text") or ""
    if not all(isinstance(v, str) and v for v in (user, channel, thread_ts)) or thread_ts == ts:
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    return ThreadReply(user, channel, thread_ts, unescape_mrkdwn(text).strip())  # type: ignore[arg-type]
