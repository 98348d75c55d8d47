"""What the Slack app manifest must declare, and why: the least privilege the bot needs.

``manifest.yml`` is checked against these sets by ``tests/test_manifest.py``: it must declare all of them and
nothing more. Adding a Web API call or an event listener that needs more means adding it here, with its reason.
"""

from __future__ import annotations

SLASH_COMMAND = "/agent-task"
"""The one slash command; the manifest declares it and the listeners match on it."""

REQUIRED_SCOPES: frozenset[str] = frozenset(
    {
        "commands",  # the /agent-task slash command
        "chat:write",  # chat.postMessage (prompts, thread chunks), chat.update (decided card), chat.postEphemeral
        "channels:history",  # message.channels: thread replies (revision feedback) in a public #approvals
        "groups:history",  # message.groups: the same in a private #approvals
        "channels:read",  # conversations.list / conversations.info for public channels: resolve "#approvals" to an ID
        "groups:read",  # conversations.list / conversations.info for private channels
        "channels:join",  # conversations.join: the bot joins a public #approvals itself (private ones need an invite)
    }
)

REQUIRED_BOT_EVENTS: frozenset[str] = frozenset(
    {
        "message.channels",  # thread replies in public channels (Bolt listens for "message")
        "message.groups",  # thread replies in private channels
    }
)
