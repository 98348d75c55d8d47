"""The Slack settings' values: tokens of the right kind, the Web API URL, the approvals channel, approvers,
escalation targets and HTTP mode's signing secret."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from bot.config.values import ConfigError, Secret, parse, seconds

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
"""A member ID: ``U…``, or ``W…`` on Enterprise Grid."""
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
CHANNEL_NAME = re.compile(r"^[^\s#<>&|@,.]{1,80}$")

TOKEN_KINDS = {
    "SLACK_BOT_TOKEN": ("xoxb-", "the bot token (xoxb-...) from your Slack app's OAuth & Permissions page"),
    "SLACK_APP_TOKEN": (
        "xapp-",
        "an app-level token (xapp-...) with the connections:write scope, from your Slack app's Basic Information page",
    ),
}
OTHER_PREFIXES = {"xoxb-": "a bot token", "xapp-": "an app-level token", "xoxp-": "a user token"}


def token(environ: Mapping[str, str], name: str, *, require: bool) -> Secret | None:
    prefix, what = TOKEN_KINDS[name]
    raw = environ.get(name, "").strip()
    if not raw:
        if require:
            raise ConfigError(name, f"is missing: set it to {what}")
        return None
    if not raw.startswith(prefix):
        seen = next((kind for other, kind in OTHER_PREFIXES.items() if raw.startswith(other)), None)
        looks = f"looks like {seen}" if seen else f"does not start with {prefix}"
        raise ConfigError(name, f"{looks}: set it to {what}")
    if len(raw) == len(prefix) or any(char.isspace() for char in raw):
        raise ConfigError(name, f"is not a valid token: set it to {what}, copied whole")
    return Secret(raw)


def slack_api_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("SLACK_API_URL", "must be an http(s) URL such as https://slack.com/api/")
    if parts.query or parts.fragment:
        raise ConfigError(
            "SLACK_API_URL", "must not have a query or fragment; use a base URL such as https://slack.com/api/"
        )
    # slack-sdk joins method names with urljoin: without the trailing slash, ".../api" + "chat.postMessage" drops /api.
    return raw if raw.endswith("/") else raw + "/"


def approvals_channel(raw: str) -> str:
    if CHANNEL_ID.match(raw):
        return raw
    name = raw.removeprefix("#").lower()
    if not CHANNEL_NAME.match(name):
        raise ConfigError(
            "APPROVALS_CHANNEL",
            f"{raw!r} is neither a channel ID (C... or G...) nor a channel name such as #approvals",
        )
    return "#" + name


def approvers(raw: str) -> frozenset[str]:
    ids = [item.strip() for item in raw.split(",") if item.strip()]
    for user_id in ids:
        if not USER_ID.match(user_id) and not USERGROUP_ID.match(user_id):
            raise ConfigError(
                "APPROVERS",
                f"has {user_id!r}, which is neither a Slack member ID (U... or W...) nor a user group ID (S...); "
                "list IDs separated by commas, or leave it empty to let anyone decide",
            )
    return frozenset(ids)


def escalation(environ: Mapping[str, str]) -> tuple[float | None, float | None, str | None]:
    """``REMIND_AFTER``, ``ESCALATE_AFTER`` and ``ESCALATE_TO``, both delays counted from the card's posting: an
    escalation needs somewhere to go and comes after the reminder."""
    remind = parse(environ, "REMIND_AFTER", None, seconds("REMIND_AFTER"))
    escalate = parse(environ, "ESCALATE_AFTER", None, seconds("ESCALATE_AFTER"))
    to = parse(environ, "ESCALATE_TO", None, escalate_to)
    if escalate is not None and to is None:
        raise ConfigError(
            "ESCALATE_TO", "is missing: ESCALATE_AFTER needs a channel, user or user group ID to escalate to"
        )
    if to is not None and escalate is None:
        raise ConfigError(
            "ESCALATE_AFTER", "is missing: set the seconds after which a pending card goes to ESCALATE_TO"
        )
    if remind is not None and escalate is not None and escalate <= remind:
        raise ConfigError(
            "ESCALATE_AFTER",
            f"must be more than REMIND_AFTER ({remind:g} s): both count from the card's posting, and the reminder"
            " comes first",
        )
    return remind, escalate, to


def escalate_to(raw: str) -> str:
    if CHANNEL_ID.match(raw) or USER_ID.match(raw) or USERGROUP_ID.match(raw):
        return raw
    raise ConfigError(
        "ESCALATE_TO",
        f"{raw!r} is not a channel ID (C... or G...), a member ID (U... or W...) or a user group ID (S...)",
    )


def needed_in_http_mode(secret: Secret | None, *, http: bool, require: bool) -> Secret | None:
    if secret is None and http and require:
        raise ConfigError(
            "SLACK_SIGNING_SECRET",
            "is missing: HTTP mode (HTTP_PORT or --http) needs the Signing Secret from your Slack app's Basic"
            " Information page",
        )
    return secret
