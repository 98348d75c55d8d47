"""Which OAuth scope each Web API method needs from a bot token, and Slack's ``missing_scope`` answer.

Sources: each method's page under docs.slack.dev/reference/methods/<method> ("Required scopes", bot token
column) and Slack's OpenAPI spec, slackapi/slack-api-specs ``web-api/slack_web_openapi_v2.json``
(``security.slackAuth`` of each path). Where the spec lists legacy scopes (``chat:write:bot``,
``channels:write`` for conversations.join) the granular bot scope from the docs page is used.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_SCOPES: frozenset[str] = frozenset({"chat:write"})
"""What ``SlackEmulator()`` grants when no ``scopes`` are given: only ``chat:write``.

Deliberately small: a test or demo that forgets to pass the manifest's scopes then fails on ``missing_scope``
instead of passing with rights the installed app would not have.
"""

# methods that take no scope from a bot token
NO_SCOPE = frozenset(
    {
        "api.test",  # docs.slack.dev/reference/methods/api.test: no scopes
        "auth.test",  # docs.slack.dev/reference/methods/auth.test: no scopes; OpenAPI slackAuth "none"
        "apps.connections.open",  # app-level token with connections:write, checked as a token type
        "chat.getPermalink",  # docs.slack.dev/reference/methods/chat.getPermalink: no scopes; OpenAPI "none"
        "views.open",  # docs.slack.dev/reference/methods/views.open: no scopes; OpenAPI "none"
        "views.update",  # docs.slack.dev/reference/methods/views.update: no scopes; OpenAPI "none"
        "views.publish",  # docs.slack.dev/reference/methods/views.publish: no scopes
    }
)

# methods whose scope does not depend on the channel
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",  # docs.slack.dev/reference/methods/chat.postMessage
    "chat.update": "chat:write",  # docs.slack.dev/reference/methods/chat.update
    "chat.delete": "chat:write",  # docs.slack.dev/reference/methods/chat.delete
    "chat.postEphemeral": "chat:write",  # docs.slack.dev/reference/methods/chat.postEphemeral
    "conversations.join": "channels:join",  # docs.slack.dev/reference/methods/conversations.join (bot)
    "users.info": "users:read",  # docs.slack.dev/reference/methods/users.info; OpenAPI users:read
    "usergroups.users.list": "usergroups:read",  # docs.slack.dev/reference/methods/usergroups.users.list
}

# methods whose scope follows the conversation's type: public / private / im / mpim
READ_SCOPES = {"public": "channels:read", "private": "groups:read", "im": "im:read", "mpim": "mpim:read"}
HISTORY_SCOPES = {"public": "channels:history", "private": "groups:history", "im": "im:history", "mpim": "mpim:history"}
WRITE_SCOPES = {"im": "im:write", "mpim": "mpim:write"}  # conversations.open: im:write for one user, mpim for more
BY_CHANNEL_TYPE: dict[str, dict[str, str]] = {
    "conversations.info": READ_SCOPES,  # docs.slack.dev/reference/methods/conversations.info
    "conversations.list": READ_SCOPES,  # docs.slack.dev/reference/methods/conversations.list (per `types`)
    "conversations.members": READ_SCOPES,  # docs.slack.dev/reference/methods/conversations.members
    "conversations.history": HISTORY_SCOPES,  # docs.slack.dev/reference/methods/conversations.history
    "conversations.replies": HISTORY_SCOPES,  # docs.slack.dev/reference/methods/conversations.replies
    "conversations.open": WRITE_SCOPES,  # docs.slack.dev/reference/methods/conversations.open
}

# Events API: a message event reaches the app only with the history scope of the conversation type
# (message.channels needs channels:history, message.groups groups:history, message.im im:history:
# docs.slack.dev/reference/events/message.channels, .../message.groups, .../message.im)
EVENT_SCOPES = HISTORY_SCOPES

# a slash command is only offered to people when the app has `commands` (docs.slack.dev/reference/scopes/commands)
COMMANDS = "commands"


class MissingScope(Exception):
    """Slack's ``{"ok": false, "error": "missing_scope", "needed": ..., "provided": ...}``."""

    def __init__(self, needed: str, provided: Iterable[str]) -> None:
        super().__init__(needed)
        self.needed = needed
        self.provided = header_value(provided)


def header_value(scopes: Iterable[str]) -> str:
    """The ``x-oauth-scopes`` header and the ``provided`` field: the scopes, comma-separated."""
    return ",".join(sorted(scopes))


class Grants:
    """The scopes of one bot token, and the checks the Web API makes against them."""

    def __init__(self, scopes: Iterable[str]) -> None:
        self.scopes = frozenset(scopes)

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise MissingScope(scope, self.scopes)

    def require_method(self, method: str) -> None:
        """The channel-independent scope of ``method``, if it has one."""
        scope = METHOD_SCOPES.get(method)
        if scope is not None:
            self.require(scope)

    def require_for(self, method: str, kind: str) -> None:
        """The scope ``method`` needs on a conversation of ``kind`` (public, private, im, mpim)."""
        table = BY_CHANNEL_TYPE.get(method)
        if table is not None and kind in table:
            self.require(table[kind])

    def hears(self, kind: str) -> bool:
        """Whether message events of a conversation of ``kind`` reach the app."""
        return EVENT_SCOPES[kind] in self.scopes
