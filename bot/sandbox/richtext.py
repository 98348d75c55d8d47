"""What the Slack client sends when a person posts: entity-escaped mrkdwn ``text`` plus a ``rich_text`` block.

The Slack client turns what a person types into (docs.slack.dev/messaging/formatting-message-text, "Retrieving
messages"; docs.slack.dev/reference/block-kit/blocks/rich-text-block):

- ``text`` with ``&``, ``<``, ``>`` escaped as ``&amp; &lt; &gt;`` and control sequences for what it recognised:
  mentions ``<@U…>``, ``<!here>``, channel links ``<#C…|name>``, links ``<https://…>`` / ``<https://…|label>``;
- a ``rich_text`` block mirroring it, with unescaped ``text`` elements and ``user``, ``broadcast``,
  ``channel`` and ``link`` elements.

What a test writes stands for what a person types and picks in the composer:
``@alice`` (a known user), ``<@U…>`` (a mention by id), ``@here``/``@channel``/``@everyone``, ``#name``
(a known channel), ``https://…`` (an auto-linked URL) and ``[label](https://…)`` (a link with a label).
Anything else is literal text, so a typed ``<!channel>`` arrives as ``&lt;!channel&gt;`` and pings nobody.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(
    r"\[(?P<label>[^\]\n]+)\]\((?P<labelled>https?://[^\s)]+)\)"
    r"|(?P<url>https?://[^\s<>]+)"
    r"|<@(?P<uid>[UW][A-Z0-9]+)>"
    r"|@(?P<name>[\w.\-]+)"
    r"|#(?P<channel>[\w\-]+)"
)
BROADCASTS = {"here", "channel", "everyone"}


def escape(text: str) -> str:
    """Slack's three entities (``&`` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def compose(
    typed: str, user_id: Callable[[str], str | None], channel_id: Callable[[str], str | None]
) -> tuple[str, list[dict[str, Any]]]:
    """``(text, blocks)`` of a message a person types; ``user_id``/``channel_id`` resolve names (or None)."""
    wire: list[str] = []
    rich: list[dict[str, Any]] = []
    last = 0

    def literal(text: str) -> None:
        if text:
            wire.append(escape(text))
            rich.append({"type": "text", "text": text})

    for match in _TOKEN.finditer(typed):
        piece = _piece(match, user_id, channel_id)
        if piece is None:
            continue
        literal(typed[last : match.start()])
        wire.append(piece[0])
        rich.append(piece[1])
        last = match.end()
    literal(typed[last:])
    block_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(5))
    blocks = [
        {
            "type": "rich_text",
            "block_id": block_id,
            "elements": [{"type": "rich_text_section", "elements": rich}],
        }
    ]
    return "".join(wire), blocks


def _piece(
    match: re.Match[str], user_id: Callable[[str], str | None], channel_id: Callable[[str], str | None]
) -> tuple[str, dict[str, Any]] | None:
    """The control sequence and rich_text element for one recognised token, or None to keep it literal."""
    if match.group("labelled"):
        url, label = match.group("labelled"), match.group("label")
        return f"<{url}|{escape(label)}>", {"type": "link", "url": url, "text": label}
    if match.group("url"):
        url = match.group("url")
        return f"<{url}>", {"type": "link", "url": url}
    if match.group("uid"):
        uid = match.group("uid")
        return f"<@{uid}>", {"type": "user", "user_id": uid}
    if match.group("name"):
        name = match.group("name")
        if name in BROADCASTS:
            return f"<!{name}>", {"type": "broadcast", "range": name}
        found = user_id(name)
        return (f"<@{found}>", {"type": "user", "user_id": found}) if found else None
    found = channel_id(match.group("channel"))
    return (f"<#{found}|>", {"type": "channel", "channel_id": found}) if found else None
