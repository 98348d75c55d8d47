"""Builders for the payloads Slack sends to an app: slash commands, block_actions, view submissions, Events API
callbacks.

Pure functions over the workspace state; ids (trigger ids, event ids) are fresh on each call.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from bot.sandbox.blockkit import find_action
from bot.sandbox.workspace import Channel, Message, User, Workspace

VERIFICATION_TOKEN = "sandboxVerificationToken"  # the legacy, meaningless field


def trigger_id() -> str:
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"


def event_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "Ev" + "".join(secrets.choice(alphabet) for _ in range(10))


def enterprise(ws: Workspace) -> dict[str, Any] | None:
    """The ``enterprise`` object of interaction payloads on Enterprise Grid, else None
    (docs.slack.dev/reference/interaction-payloads/block_actions-payload)."""
    return {"id": ws.enterprise_id, "name": ws.enterprise_name} if ws.enterprise_id else None


def slash_command(
    ws: Workspace, user: User, channel: Channel, command: str, text: str, response_url: str
) -> dict[str, Any]:
    """The ``payload`` of a ``slash_commands`` envelope: the form fields as a JSON object of strings.

    On Enterprise Grid Slack adds ``enterprise_id`` and ``enterprise_name``
    (docs.slack.dev/interactivity/implementing-slash-commands, "Preparing your app").
    """
    grid = {"enterprise_id": ws.enterprise_id, "enterprise_name": ws.enterprise_name} if ws.enterprise_id else {}
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": channel.id,
        "channel_name": channel.name if not channel.private else "privategroup",
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id(),
        **grid,
    }


def block_actions(
    ws: Workspace,
    user: User,
    channel: Channel,
    message: Message,
    action_id: str,
    value: str | None,
    response_url: str,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on the element ``action_id`` of ``message``.

    Raises ``LookupError`` when the message has no such element (for example, its buttons were removed).
    """
    found = find_action(message.blocks, action_id, value)
    if found is None:
        raise LookupError(f"message {message.ts} in {channel.id} has no element with action_id {action_id!r}")
    block_id, element = found
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": channel.id,
        "is_ephemeral": message.visible_to is not None,
    }
    if message.thread_ts:
        container["thread_ts"] = message.thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id},
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id(),
        "team": {"id": ws.team_id, "domain": ws.team_domain},
        "enterprise": enterprise(ws),
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel.name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action(ws, block_id, element, value)],
    }
    if message.visible_to is None:  # Slack omits the message of an ephemeral one
        payload["message"] = ws.message_dict(message)
    return payload


def action(ws: Workspace, block_id: str, element: dict[str, Any], value: str | None) -> dict[str, Any]:
    """One entry of a ``block_actions`` payload's ``actions``: the clicked element (``value`` may stand in for the
    element's own, as a forged click would send)."""
    entry: dict[str, Any] = {
        "type": element["type"],
        "action_id": element["action_id"],
        "block_id": block_id,
        "action_ts": ws.next_ts(),
    }
    for key in ("text", "style"):
        if key in element:
            entry[key] = element[key]
    chosen = value if value is not None else element.get("value")
    if chosen is not None:
        entry["value"] = chosen
    return entry


def team(ws: Workspace) -> dict[str, Any]:
    """The ``team`` of a view payload; Enterprise Grid adds ``enterprise_id`` and ``enterprise_name``
    (bolt-python tests/scenario_tests_async/test_view_submission.py)."""
    grid = {"enterprise_id": ws.enterprise_id, "enterprise_name": ws.enterprise_name} if ws.enterprise_id else {}
    return {"id": ws.team_id, "domain": ws.team_domain, **grid}


def view_submission(ws: Workspace, user: User, view: dict[str, Any], trigger: str) -> dict[str, Any]:
    """A ``view_submission`` payload: the submitted view with its ``state``, a fresh trigger id and
    ``response_urls`` (empty: no conversation-select input asks for one). The shape of a real payload
    (docs.slack.dev/reference/interaction-payloads/view-interactions-payload; bolt-python's fixture)."""
    return {
        "type": "view_submission",
        "team": team(ws),
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id},
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": enterprise(ws),
    }


def view_closed(ws: Workspace, user: User, view: dict[str, Any], *, cleared: bool) -> dict[str, Any]:
    """A ``view_closed`` payload, sent only for a view with ``notify_on_close``; ``is_cleared`` when the whole
    stack closed (docs.slack.dev/reference/interaction-payloads/view-interactions-payload#view_closed)."""
    return {
        "type": "view_closed",
        "team": team(ws),
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id},
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "view": view,
        "is_cleared": cleared,
        "is_enterprise_install": False,
        "enterprise": enterprise(ws),
    }


def event_callback(ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    """The ``payload`` of an ``events_api`` envelope wrapping ``event``."""
    context = base64.b64encode(json.dumps({"et": event.get("type"), "tid": ws.team_id}).encode()).decode()
    grid = {"enterprise_id": ws.enterprise_id} if ws.enterprise_id else {}
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": ws.team_id,
        **grid,
        "context_team_id": ws.team_id,
        "context_enterprise_id": ws.enterprise_id,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": ws.enterprise_id,
                "team_id": ws.team_id,
                "user_id": ws.bot.id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{context}",
    }


def message_event(ws: Workspace, channel: Channel, message: Message) -> dict[str, Any]:
    event = ws.message_dict(message)
    event.pop("reply_count", None)
    event.pop("reply_users", None)
    event.pop("reply_users_count", None)
    event.pop("latest_reply", None)
    if not message.is_reply:
        event.pop("thread_ts", None)
    event.update(channel=channel.id, event_ts=message.ts, channel_type=channel.channel_type)
    return event


def message_changed_event(ws: Workspace, channel: Channel, old: Message, new: Message) -> dict[str, Any]:
    event_ts = ws.next_ts()
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "message": ws.message_dict(new),
        "previous_message": ws.message_dict(old),
        "channel": channel.id,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel.channel_type,
    }


def message_deleted_event(ws: Workspace, channel: Channel, old: Message) -> dict[str, Any]:
    event_ts = ws.next_ts()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": old.ts,
        "previous_message": ws.message_dict(old),
        "channel": channel.id,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel.channel_type,
    }
