"""mrkdwn text: escaping, Slack's way of counting characters, excerpts, dates, mentions and links. No I/O.

Slack's limits say "characters" without saying which; the stricter reading is UTF-16 code units (what its
JavaScript clients count), so an emoji outside the Basic Multilingual Plane counts 2. ``slack_len`` counts that
way and every budget in this package is in those units.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot.config import USER_ID, USERGROUP_ID

SECTION_LIMIT = 3000  # a section's text and any text object (docs.slack.dev/reference/block-kit/blocks/section-block)
HEADER_LIMIT = 150  # a header's plain_text (docs.slack.dev/reference/block-kit/blocks/header-block)

_NAMED = {"workflow": "the workflow", "system": "the system"}


def escape_mrkdwn(text: str) -> str:
    """Escape the only three characters Slack's mrkdwn needs escaped; ``&`` first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_mrkdwn(text: str) -> str:
    """The inverse of ``escape_mrkdwn``, for text Slack delivers entity-escaped (``&amp;`` last)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units: the stricter of the ways Slack may count characters."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def escaped_len(char: str) -> int:
    """How many UTF-16 units one raw character takes once escaped."""
    if char == "&":
        return 5
    if char in "<>":
        return 4
    return 2 if ord(char) > 0xFFFF else 1


def shorten(text: str, limit: int) -> str:
    """Raw ``text`` on one line, cut to at most ``limit`` characters at a word boundary, ending in "…" if cut."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def excerpt(text: str, limit: int) -> str:
    """Raw ``text`` on one line, escaped, in at most ``limit`` UTF-16 units; cut at a word boundary with "…"."""
    line = " ".join(text.split())
    if sum(escaped_len(char) for char in line) <= limit:
        return escape_mrkdwn(line)
    end, size = 0, 1  # room for the "…"
    while size + escaped_len(line[end]) <= limit:
        size += escaped_len(line[end])
        end += 1
    space = line.rfind(" ", 0, end + 1)
    if space > end // 2:
        end = space
    return escape_mrkdwn(line[:end].rstrip()) + "…"


def _seconds(ms: int) -> tuple[int, str]:
    seconds = ms // 1000
    return seconds, datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def slack_date(ms: int) -> str:
    """A Slack date shown in the reader's time zone ("today at 14:02"), with a UTC fallback."""
    seconds, fallback = _seconds(ms)
    return f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|{fallback}>"


def at_date(ms: int) -> str:
    """`` at <date>`` for a moment, or nothing when there is none (``ms`` 0): "approved by @bob at …"."""
    return f" at {slack_date(ms)}" if ms else ""


def slack_relative_date(ms: int) -> str:
    """A Slack date that stays true as time passes: each reader sees "in 59 minutes", later "in 3 minutes".

    ``{ago}`` is Slack's "human-readable period of time" token (docs.slack.dev/messaging/formatting-message-text,
    "Date formatting"; node-slack-sdk ``RichTextDate.format``); the absolute time follows in the reader's zone.
    """
    seconds, fallback = _seconds(ms)
    return f"<!date^{seconds}^{{ago}} ({{date_short_pretty}} at {{time}})|{fallback}>"


def person(user: str) -> str:
    """A mention for a Slack user ID (``U…``/``W…``); anything else (``workflow``, ``system``, a name) in words."""
    if USER_ID.match(user):
        return f"<@{user}>"
    if not user:
        return "someone"
    return excerpt(_NAMED.get(user, user), 80)


def mention(target: str) -> str:
    """``<@U…>`` for a user, ``<!subteam^S…>`` for a user group; anything else escaped as words."""
    if USER_ID.match(target):
        return f"<@{target}>"
    if USERGROUP_ID.match(target):
        return f"<!subteam^{target}>"
    return excerpt(target, 80)


def mentions(targets: Iterable[str], *, limit: int = 400) -> str:
    """Comma-separated mentions within ``limit`` UTF-16 units; the ones left out are counted ("and 3 more")."""
    items = list(dict.fromkeys(targets))
    shown: list[str] = []
    size = 0
    for index, target in enumerate(items):
        item = mention(target)
        grown = size + (2 if shown else 0) + slack_len(item)
        left = len(items) - index - 1
        if shown and grown + (len(f" and {left} more") if left else 0) > limit:
            return ", ".join(shown) + f" and {len(items) - index} more"
        shown.append(item)
        size = grown
    return ", ".join(shown)


def link(url: str, label: str) -> str:
    """A mrkdwn link ``<url|label>``; the label is escaped, and ``|`` in the URL percent-encoded."""
    return f"<{escape_mrkdwn(url.replace('|', '%7C'))}|{escape_mrkdwn(label)}>"


def message_link(workspace_url: str, channel: str, ts: str) -> str:
    """The permalink form of a message: ``https://acme.slack.com/archives/C123/p1714000000000100``."""
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
