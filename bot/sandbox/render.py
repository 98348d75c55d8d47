"""Slack messages as a person would read them in a terminal: Block Kit and mrkdwn turned into plain text.

Pure functions, no I/O; used by ``approval-bot demo`` to print what the emulated workspace shows.

- ``<@U123>`` becomes ``@name``, ``<#C123>`` ``#name`` (from ``names``, or the label Slack carries),
  ``<!date^…|fallback>`` its fallback, ``<!here>`` ``@here``, ``<url|label>`` ``label (url)``;
- ``*bold*`` and ``_italic_`` lose their markers, inline ``code`` keeps its backticks, a ```` ``` ```` block
  becomes lines behind a ``│`` gutter;
- ``&lt; &gt; &amp;`` are unescaped last, so escaped text never turns into a mention or a link;
- buttons read ``[ Approve ]  [ Revise ]  [ Cancel ]``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

GUTTER = "│ "
DIVIDER = "─" * 24
UNCHANGED = "…"

# One pass over the text: code blocks, inline code and control sequences are tokens; the rest is formatted.
_TOKENS = re.compile(r"```(?P<block>.*?)```|`(?P<code>[^`\n]+)`|<(?P<control>[^<>\n]*)>", re.DOTALL)
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def unescape(text: str) -> str:
    """Slack's three entities back to characters; ``&amp;`` last, so ``&amp;lt;`` reads ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_mrkdwn(text: str, names: Mapping[str, str] | None = None) -> str:
    """One mrkdwn string as plain text (see the module docstring)."""
    names = names or {}
    out: list[str] = []
    last = 0
    for match in _TOKENS.finditer(text):
        out.append(_format(text[last : match.start()]))
        if match.group("block") is not None:
            out.append(_code_block(match.group("block"), before="".join(out), after=text[match.end() :]))
        elif match.group("code") is not None:
            out.append(f"`{match.group('code')}`")
        else:
            out.append(_control(match.group("control"), names))
        last = match.end()
    out.append(_format(text[last:]))
    return unescape("".join(out))


def _format(text: str) -> str:
    return _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))


def _code_block(body: str, *, before: str, after: str) -> str:
    lines = body.strip("\n").split("\n")
    block = "\n".join((GUTTER + line).rstrip() for line in lines)
    head = "" if not before or before.endswith("\n") else "\n"
    tail = "" if not after or after.startswith("\n") else "\n"
    return head + block + tail


def _control(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # a user: <@U123> or <@U123|name>
        return "@" + (label or names.get(target[1:], target[1:]))
    if target.startswith("#"):  # a channel: <#C123> or <#C123|name>
        return "#" + (label or names.get(target[1:], target[1:]))
    if target.startswith("!"):
        command = target[1:]
        if command.startswith("date^"):
            return label or command.split("^")[1]
        if command in _SPECIAL:
            return label or _SPECIAL[command]
        if command.startswith("subteam^"):
            return label or "@" + command.split("^")[1]
        return label or "@" + command
    if target.startswith("mailto:") and (not label or label == target.removeprefix("mailto:")):
        return target.removeprefix("mailto:")
    if label and label != target:
        return f"{label} ({target})"
    return target


# --- Block Kit ---------------------------------------------------------------------------------------------------


def render_text_object(obj: Any, names: Mapping[str, str] | None = None) -> str:
    """A ``plain_text`` (as is) or ``mrkdwn`` (rendered) text object; anything else is empty."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return ""
    return render_mrkdwn(obj["text"], names) if obj.get("type") == "mrkdwn" else obj["text"]


def render_element(element: Any, names: Mapping[str, str] | None = None) -> str:
    """An interactive element as it looks: ``[ Approve ]``, ``[ Pick one ▾ ]``, ``[ … ]``; other elements empty."""
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "button":
        return f"[ {render_text_object(element.get('text'), names)} ]"
    if kind == "overflow":
        return "[ … ]"
    if isinstance(kind, str) and (kind.endswith("_select") or kind.endswith("picker")):
        placeholder = render_text_object(element.get("placeholder"), names) or kind.replace("_", " ")
        return f"[ {placeholder} ▾ ]"
    if kind == "image":
        return ""
    if kind in ("plain_text", "mrkdwn"):
        return render_text_object(element, names)
    return ""


def render_block(block: Any, names: Mapping[str, str] | None = None) -> str:
    """One block as text ("" for blocks with nothing to read)."""
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "header":
        return render_text_object(block.get("text"), names)
    if kind == "section":
        parts = [render_text_object(block.get("text"), names)]
        parts += [render_text_object(field, names) for field in _list(block.get("fields"))]
        parts.append(render_element(block.get("accessory"), names))
        return "\n".join(part for part in parts if part)
    if kind == "context":
        return "  ".join(text for el in _list(block.get("elements")) if (text := render_element(el, names)))
    if kind == "actions":
        return "  ".join(text for el in _list(block.get("elements")) if (text := render_element(el, names)))
    if kind == "divider":
        return DIVIDER
    if kind == "image":
        title = render_text_object(block.get("title"), names) or str(block.get("alt_text") or "")
        return f"[image: {title}]" if title else "[image]"
    if kind == "markdown":
        markdown = block.get("text")
        return markdown if isinstance(markdown, str) else ""
    if kind == "input":
        label = render_text_object(block.get("label"), names)
        return f"{label}\n{render_element(block.get('element'), names) or '[ … ]'}"
    if kind == "rich_text":
        return _rich_text(_list(block.get("elements")), names or {}).strip("\n")
    return ""


def render_blocks(blocks: Iterable[Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Each block that has something to read, as text, in order."""
    return [text for block in blocks if (text := render_block(block, names))]


def render_message(
    text: str,
    blocks: Iterable[Any] | None,
    names: Mapping[str, str] | None = None,
    *,
    previous: Iterable[Any] | None = None,
) -> str:
    """A message as a person reads it: its blocks (a blank line between them, none after the header), or its
    ``text`` when it has no blocks. ``names`` maps user and channel IDs to names.

    ``previous`` (the blocks of the version shown before an edit) collapses every block that reads the same as
    before into one ``…``, so an edited message shows what changed; a header is always shown.
    """
    shown = [(block, rendered) for block in blocks or () if (rendered := render_block(block, names))]
    if not shown:
        return render_mrkdwn(text, names)
    if previous is not None:
        before = set(render_blocks(previous, names))
        collapsed: list[tuple[Any, str]] = []
        for block, rendered in shown:
            if block.get("type") == "header" or rendered not in before:
                collapsed.append((block, rendered))
            elif not collapsed or collapsed[-1][1] != UNCHANGED:
                collapsed.append(({}, UNCHANGED))
        shown = collapsed
    out = shown[0][1]
    for (before_block, _), (_, rendered) in itertools.pairwise(shown):
        out += ("\n" if before_block.get("type") == "header" else "\n\n") + rendered
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _rich_text(elements: list[Any], names: Mapping[str, str]) -> str:
    out: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        inner = _list(element.get("elements"))
        if kind == "rich_text_section":
            out.append(_inline(inner, names))
        elif kind == "rich_text_list":
            bullet = "1." if element.get("style") == "ordered" else "•"
            items = [_inline(_list(item.get("elements")), names) for item in inner if isinstance(item, dict)]
            out.append("\n".join(f"{bullet} {item}" for item in items) + "\n")
        elif kind == "rich_text_preformatted":
            lines = _inline(inner, names).strip("\n").split("\n")
            out.append("\n".join((GUTTER + line).rstrip() for line in lines) + "\n")
        elif kind == "rich_text_quote":
            out.append("\n".join("> " + line for line in _inline(inner, names).split("\n")) + "\n")
    return "".join(out)


def _inline(elements: list[Any], names: Mapping[str, str]) -> str:
    out: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "text":
            out.append(str(element.get("text", "")))
        elif kind == "link":
            url, label = str(element.get("url", "")), str(element.get("text") or "")
            out.append(f"{label} ({url})" if label and label != url else url)
        elif kind == "user":
            user = str(element.get("user_id", ""))
            out.append("@" + names.get(user, user))
        elif kind == "channel":
            channel = str(element.get("channel_id", ""))
            out.append("#" + names.get(channel, channel))
        elif kind == "emoji":
            out.append(f":{element.get('name', '')}:")
        elif kind == "broadcast":
            out.append("@" + str(element.get("range", "here")))
        elif kind == "date":
            out.append(str(element.get("fallback", element.get("timestamp", ""))))
    return "".join(out)
