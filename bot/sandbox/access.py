"""Who may see and write where: Slack's membership and archive rules for a bot token.

Sources (errors as listed in slackapi/slack-api-specs ``web-api/slack_web_openapi_v2.json`` per method, and
each method's docs.slack.dev/reference/methods/<method> page):

- A private channel or an im the bot is not in does not exist for it: ``channel_not_found`` from every
  method (conversations.info, chat.postMessage, chat.postEphemeral, ...).
- chat.postMessage / chat.update / chat.delete to a public channel the bot is not in: ``not_in_channel``,
  unless the token has ``chat:write.public`` (docs.slack.dev/reference/scopes/chat.write.public: "Send
  messages to channels @app isn't a member of"; posting only, so ephemerals still need membership).
- chat.postEphemeral needs the bot in the channel (``not_in_channel``) and the user too
  (``user_not_in_channel``; docs.slack.dev/reference/methods/chat.postEphemeral: "ensure the user is a member").
- conversations.history / replies of a public channel the bot is not in: ``not_in_channel`` (a bot reads
  only conversations it is in).
- An archived channel: ``is_archived`` for chat.postMessage, chat.postEphemeral, conversations.join (spec);
  chat.update and chat.delete there get ``is_archived`` too (an archived channel is read-only in Slack;
  the spec does not list the error for them, so this is the strict choice).
"""

from __future__ import annotations

from bot.sandbox.entities import Channel, User
from bot.sandbox.methods_base import ApiError
from bot.sandbox.scopes import Grants

PUBLIC_WRITE = "chat:write.public"


def visible(channel: Channel, bot: User) -> bool:
    """Whether the bot can see the conversation at all (public ones always)."""
    return channel.kind == "public" or bot.id in channel.members


def readable(channel: Channel | None, bot: User) -> Channel:
    if channel is None or not visible(channel, bot):
        raise ApiError("channel_not_found")
    return channel


def writable(channel: Channel | None, bot: User, grants: Grants) -> Channel:
    """A conversation the bot may post in (chat.postMessage, chat.update, chat.delete)."""
    channel = readable(channel, bot)
    if channel.archived:
        raise ApiError("is_archived")
    if bot.id not in channel.members and PUBLIC_WRITE not in grants.scopes:
        raise ApiError("not_in_channel")
    return channel


def ephemeral_target(channel: Channel | None, bot: User, user: User) -> Channel:
    """A conversation where the bot may show ``user`` an ephemeral message."""
    channel = readable(channel, bot)
    if channel.archived:
        raise ApiError("is_archived")
    if bot.id not in channel.members:
        raise ApiError("not_in_channel")
    if user.id not in channel.members:
        raise ApiError("user_not_in_channel")
    return channel


def history(channel: Channel | None, bot: User) -> Channel:
    """A conversation whose messages the bot may read."""
    channel = readable(channel, bot)
    if bot.id not in channel.members:
        raise ApiError("not_in_channel")
    return channel
