"""The "Edit" modal: the request's editable content (a draft, a plan, code, or a tool call's arguments as JSON) in
one text box, submitted as "Approve with edits". Pure; no I/O.

Limits (docs.slack.dev/reference/views/modal, .../block-kit/blocks/input-block, .../elements/plain-text-input):
a modal's title, submit and close texts at most 24 characters, ``private_metadata`` at most 3000, a plain-text
input's ``initial_value`` and ``max_length`` at most 3000.
"""

from __future__ import annotations

import json
from typing import Any

from bot.approvals.models import Approval
from bot.slack.blocks.approval import DIGEST_CHARS
from bot.slack.blocks.text import excerpt

EDIT_CALLBACK = "approval_edit"
EDIT_BLOCK = "edit_content"
EDIT_ACTION = "edit_text"
MAX_EDIT_CHARS = 3000
_WHAT = {"draft": "the draft", "plan": "the plan", "code": "the code", "tool": "the arguments (JSON)"}


def edit_view(approval: Approval, content: str, *, channel: str, ts: str) -> dict[str, Any]:
    """The modal for editing ``approval`` (``content`` at most ``MAX_EDIT_CHARS``); its metadata names the
    approval, the version of it the person saw, and the card."""
    kind = approval.terms.kind
    meta = {"approval_id": approval.id, "digest": approval.digest[:DIGEST_CHARS], "channel": channel, "ts": ts}
    what = _WHAT.get(kind, "the request")
    about = (
        f"`{approval.terms.tool}`" if kind == "tool" else f"step {approval.step} of {excerpt(approval.workflow, 80)}"
    )
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Edit before approving"},
        "submit": {"type": "plain_text", "text": "Approve with edits"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {
                "type": "section",
                "block_id": "edit_about",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Edit {what} of {about}. Submitting approves your edited version; the agent is told"
                    " what you changed.",
                },
            },
            {
                "type": "input",
                "block_id": EDIT_BLOCK,
                "label": {"type": "plain_text", "text": what[0].upper() + what[1:]},
                "element": {
                    "type": "plain_text_input",
                    "action_id": EDIT_ACTION,
                    "multiline": True,
                    "initial_value": content,
                    "max_length": MAX_EDIT_CHARS,
                },
            },
        ],
    }


def edit_metadata(view: dict[str, Any]) -> dict[str, str] | None:
    """The approval, version and card an edit modal was opened for, or None if the view is not one."""
    try:
        raw = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    keys = ("approval_id", "digest", "channel", "ts")
    if not isinstance(raw, dict) or not all(isinstance(raw.get(key), str) for key in keys):
        return None
    return {key: raw[key] for key in keys}


def edited_content(view: dict[str, Any]) -> str | None:
    """What the person typed in an edit modal, or None if the submission has no such value."""
    try:
        value = view["state"]["values"][EDIT_BLOCK][EDIT_ACTION]["value"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None
