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
        "chat:write",  # chat.postMessage (prompts, thread chunks, DMs), chat.update (decided card), chat.postEphemeral
        "channels:history",  # message.channels: thread replies in a public #approvals; conversations.history there
        # (a card whose post lost its answer is looked for by its metadata before it is posted again)
        "groups:history",  # message.groups and conversations.history: the same in a private #approvals
        "channels:read",  # conversations.list / conversations.info for public channels: resolve "#approvals" to an ID
        "groups:read",  # conversations.list / conversations.info for private channels
        "channels:join",  # conversations.join: the bot joins a public #approvals itself (private ones need an invite)
        "im:write",  # conversations.open: tell the requester by DM once the command's response_url is spent
        "users:read",  # users.info: mentions in thread feedback reach the agent as @name, not <@U…>
        "usergroups:read",  # usergroups.users.list: APPROVERS may name user groups (S…)
    }
)

REQUIRED_BOT_EVENTS: frozenset[str] = frozenset(
    {
        "message.channels",  # thread replies in public channels (Bolt listens for "message")
        "message.groups",  # thread replies in private channels
        "app_home_opened",  # publish the viewer's Home tab (views.publish) when they open it; needs no scope
    }
)
# views.publish (the Home tab) and views.open (the Revise-from-Home modal) need no scope
# (docs.slack.dev/reference/methods/views.publish, .../views.open).
