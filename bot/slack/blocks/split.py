"""Splitting long raw text into pieces that each fit a Slack limit once escaped, without breaking code blocks.

A piece is cut after a newline if there is one in the second half of its window, else after other whitespace
there, else mid-word (and then ``Piece.mid_word`` says so). A cut inside a ```` ``` ```` code block closes the
block at the end of its piece and reopens it, with the same language tag (```` ```python ````), at the start of
the next, so every piece renders as its author meant. Sizes are UTF-16 units of the escaped text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from bot.slack.blocks.text import SECTION_LIMIT, escape_mrkdwn, escaped_len, slack_len

FENCE = "```"
MIN_LIMIT = 64  # room for a reopened fence with its language tag, a closing fence and some text
_TAG = re.compile(r"[A-Za-z0-9_+#.-]{1,30}")  # a language tag after an opening fence
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}  # zero-width joiner, variation selectors: never cut next to them


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    """Raw text (escape it before posting), with any fence closed at its end or reopened at its start."""
    mid_word: bool = False
    """True when the cut after this piece fell inside a word (a word longer than half the limit)."""


@dataclass(frozen=True, slots=True)
class _Fence:
    start: int  # where the ``` is
    body: int  # where the code starts: after the opener's tag line, or right after ``` for a closer
    opener: str  # "```python", "```", or "" for a closing fence


def _fences(text: str) -> list[_Fence]:
    """Every ``` in ``text``, alternately opening and closing a code block (as Slack reads them)."""
    fences: list[_Fence] = []
    for match in re.finditer(re.escape(FENCE), text):
        if fences and match.start() < fences[-1].body:
            continue  # inside the previous opener's tag line
        if len(fences) % 2:
            fences.append(_Fence(match.start(), match.end(), ""))
            continue
        newline = text.find("\n", match.end())
        line_end = len(text) if newline == -1 else newline
        tag = text[match.end() : line_end]
        if _TAG.fullmatch(tag) and newline != -1:
            fences.append(_Fence(match.start(), newline + 1, FENCE + tag))
        else:
            fences.append(_Fence(match.start(), match.end(), FENCE))
    if len(fences) % 2:
        fences.pop()  # a ``` that is never closed is shown as it is, not as a code block
    return fences


def split_pieces(text: str, limit: int = SECTION_LIMIT) -> list[Piece]:
    """``text`` cut into pieces that each fit ``limit`` once escaped; see the module docstring."""
    return list(iter_pieces(text, limit))


def iter_pieces(text: str, limit: int = SECTION_LIMIT) -> Iterator[Piece]:
    """``split_pieces``, one piece at a time (for callers that need only the first few)."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, got {limit}")
    fences = _fences(text)
    start, opener = 0, ""
    while start < len(text):
        prefix = f"{opener}\n" if opener else ""
        budget = limit - slack_len(prefix)
        end, mid_word = _cut(text, start, budget, fences)
        inside = _open_fence(fences, end) if end < len(text) else None
        closer = _closer(prefix + text[start:end]) if inside else ""
        if closer and slack_len(escape_mrkdwn(prefix + text[start:end])) + len(closer) > limit:
            end, mid_word = _cut(text, start, budget - len(FENCE) - 1, fences)
            inside = _open_fence(fences, end) if end < len(text) else None
            closer = _closer(prefix + text[start:end]) if inside else ""
        yield Piece(prefix + text[start:end] + closer, mid_word)
        start, opener = end, (inside.opener if inside else "")


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """The raw text of each of ``split_pieces(text, limit)``."""
    return [piece.text for piece in split_pieces(text, limit)]


def _closer(piece: str) -> str:
    return FENCE if piece.endswith("\n") else "\n" + FENCE


def _open_fence(fences: list[_Fence], position: int) -> _Fence | None:
    """The fence whose code block ``position`` is in, if any."""
    passed = [fence for fence in fences if fence.body <= position]
    if len(passed) % 2 and passed[-1].opener:
        return passed[-1]
    return None


def _cut(text: str, start: int, budget: int, fences: list[_Fence]) -> tuple[int, bool]:
    end, size = start, 0
    while end < len(text) and size + escaped_len(text[end]) <= budget:
        size += escaped_len(text[end])
        end += 1
    if end == len(text):
        return end, False
    end = _break_before(text, start, end)
    end = _outside_fence_marks(fences, start, end)
    end = _outside_clusters(text, start, end)
    mid_word = not text[end - 1].isspace() and not text[end].isspace()
    return end, mid_word


def _break_before(text: str, start: int, end: int) -> int:
    floor = start + (end - start) // 2
    newline = text.rfind("\n", floor, end)
    if newline != -1:
        return newline + 1
    for index in range(end - 1, floor - 1, -1):
        if text[index].isspace():
            return index + 1
    return end


def _outside_fence_marks(fences: list[_Fence], start: int, end: int) -> int:
    """Never cut inside a ``` or an opener's tag line, nor right after an opener: cut before the fence instead."""
    for fence in fences:
        after = fence.body + 1 if fence.opener else fence.body
        if fence.start < end < after and fence.start > start:
            return fence.start
    return end


def _outside_clusters(text: str, start: int, end: int) -> int:
    """Keep combining marks and joined emoji with the character before them."""
    while end - 1 > start and (unicodedata.combining(text[end]) or text[end] in _JOINERS or text[end - 1] in _JOINERS):
        end -= 1
    return end
