"""mrkdwn text helpers and the fence-aware splitter: pure, no I/O."""

from __future__ import annotations

import random
import re

import pytest

from bot.slack.blocks import (
    FENCE,
    SECTION_LIMIT,
    escape_mrkdwn,
    excerpt,
    link,
    mention,
    mentions,
    person,
    slack_len,
    slack_relative_date,
    split_pieces,
    split_text,
    unescape_mrkdwn,
)

EVIL = "Ping <!channel> and <!here>, <@U0EVIL1234> & <https://evil.example|click> </b>"


def test_escape_and_unescape() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape_mrkdwn("&lt;") == "&amp;lt;"
    assert escape_mrkdwn("'\"*_~`") == "'\"*_~`"
    for text in ["&lt;", "&amp;amp;", EVIL, "<<&&>>", ""]:
        assert unescape_mrkdwn(escape_mrkdwn(text)) == text


def test_slack_len_counts_utf16_units() -> None:
    assert slack_len("abc") == 3
    assert slack_len("é") == 1  # in the Basic Multilingual Plane
    assert slack_len("😀") == 2  # a surrogate pair in UTF-16
    assert slack_len("👍🏽") == 4
    assert slack_len("a😀b") == len("a😀b".encode("utf-16-le")) // 2


def test_excerpt_fits_its_limit_after_escaping() -> None:
    assert excerpt("short & sweet", 100) == "short &amp; sweet"
    assert excerpt("  many\n\nlines   here ", 100) == "many lines here"
    cut = excerpt("&" * 500, 100)
    assert slack_len(cut) <= 100
    assert cut.endswith("…")
    words = excerpt("word " * 100, 50)
    assert slack_len(words) <= 50
    assert words.endswith("word…")
    assert slack_len(excerpt("😀" * 100, 21)) <= 21


def test_person_and_mentions() -> None:
    assert person("U0ALICE123") == "<@U0ALICE123>"
    assert person("W0GRID1234") == "<@W0GRID1234>"  # Enterprise Grid
    assert person("workflow") == "the workflow"
    assert person("") == "someone"
    assert person("bob <b>") == "bob &lt;b&gt;"
    assert mention("S0GROUP123") == "<!subteam^S0GROUP123>"
    assert mention("<!channel>") == "&lt;!channel&gt;"
    assert mentions(["U0ALICE123", "S0GROUP123", "U0ALICE123"]) == "<@U0ALICE123>, <!subteam^S0GROUP123>"
    many = mentions([f"U0PERSON{i:03}" for i in range(100)], limit=200)
    assert slack_len(many) <= 200
    shown = many.count("<@")
    assert many.endswith(f" and {100 - shown} more")


def test_link_escapes_label_and_keeps_the_url_one_target() -> None:
    assert link("https://acme.slack.com/archives/C1/p1", "here") == "<https://acme.slack.com/archives/C1/p1|here>"
    assert link("https://x.example/?a=1&b=2|x", "<b>") == "<https://x.example/?a=1&amp;b=2%7Cx|&lt;b&gt;>"


def test_relative_date_uses_slacks_ago_token() -> None:
    assert slack_relative_date(1_714_003_600_000) == (
        "<!date^1714003600^{ago} ({date_short_pretty} at {time})|2024-04-25 00:06 UTC>"
    )


@pytest.mark.parametrize(
    "text",
    ["&" * 7000, "<>" * 4000, "a&" * 3000, "word " * 2000 + "&&&" + "x" * 5000, "line\n" * 3000, "&amp;" * 900],
)
def test_split_never_breaks_an_entity(text: str) -> None:
    chunks = split_text(text, SECTION_LIMIT)
    assert "".join(chunks) == text
    for chunk in chunks:
        escaped = escape_mrkdwn(chunk)
        assert 0 < len(escaped) <= SECTION_LIMIT
        assert unescape_mrkdwn(escaped) == chunk
        assert not re.search(r"&(?!amp;|lt;|gt;)", escaped)


def test_split_counts_emoji_as_two_units() -> None:
    text = "😀" * 4000
    chunks = split_text(text, SECTION_LIMIT)
    assert "".join(chunks) == text
    assert [slack_len(chunk) for chunk in chunks] == [3000, 3000, 2000]


def test_split_keeps_joined_emoji_together() -> None:
    family = "👨\u200d👩\u200d👧"
    text = family * 1000
    chunks = split_text(text, 100)
    assert "".join(chunks) == text
    assert all(chunk.startswith("👨") and chunk.endswith("👧") for chunk in chunks)
    assert all(slack_len(chunk) <= 100 for chunk in chunks)


def test_split_prefers_line_then_word_boundaries() -> None:
    text = ("word " * 500 + "\n") * 4
    assert all(chunk.endswith("\n") for chunk in split_text(text)[:-1])
    words = "word " * 2000
    assert all(chunk.endswith(" ") for chunk in split_text(words)[:-1])
    assert split_text("x" * 7000) == ["x" * 3000, "x" * 3000, "x" * 1000]
    assert split_text("") == []


def test_split_says_when_it_cut_inside_a_word() -> None:
    pieces = split_pieces("short words " + "x" * 5000, 3000)
    assert [piece.mid_word for piece in pieces] == [True, False]
    assert not any(piece.mid_word for piece in split_pieces("word " * 2000, 3000))


def code_blocks_balanced(piece: str) -> bool:
    return piece.count(FENCE) % 2 == 0


def test_a_cut_inside_a_code_block_closes_and_reopens_it() -> None:
    code = "".join(f"x{i} = {i}  # a line of code\n" for i in range(400))
    text = f"Here is the fix:\n```python\n{code}```\nDone."
    pieces = split_text(text, SECTION_LIMIT)
    assert len(pieces) > 1
    for index, piece in enumerate(pieces):
        assert slack_len(escape_mrkdwn(piece)) <= SECTION_LIMIT
        assert code_blocks_balanced(piece), piece[-40:]
        if index:
            assert piece.startswith("```python\n")
        if index < len(pieces) - 1:
            assert piece.endswith("\n```")
    assert pieces[-1].endswith("```\nDone.")
    # Removing the added fences gives the text back.
    assert "".join(pieces).replace("\n```" + "```python\n", "\n") == text


def test_code_blocks_split_when_escaping_fills_the_piece() -> None:
    text = "```\n" + "a < b && c > d\n" * 1000 + "```"
    pieces = split_text(text, 3000)
    for piece in pieces:
        assert slack_len(escape_mrkdwn(piece)) <= 3000
        assert code_blocks_balanced(piece)
        assert piece.startswith("```")
        assert piece.endswith("```")


def test_fences_with_random_text_always_balance_and_fit() -> None:
    rng = random.Random(7)
    words = ["alpha", "&", "<b>", "😀", "```", "```js\n", "\n", "code();", "x" * 50, " "]
    for limit in (64, 200, 3000):
        for _ in range(20):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(50, 800)))
            pieces = split_text(text, limit)
            assert all(slack_len(escape_mrkdwn(piece)) <= limit for piece in pieces)
            fences_in_text = text.count(FENCE)
            if fences_in_text % 2 == 0:
                assert all(code_blocks_balanced(piece) for piece in pieces)


def test_an_unclosed_fence_is_not_treated_as_code() -> None:
    text = "see ``` here " + "word " * 1000
    assert "".join(split_text(text, 1000)) == text


def test_a_cut_never_lands_inside_a_fence_or_its_tag() -> None:
    text = "x" * 2990 + "```python\ncode\n```"
    pieces = split_text(text, 3000)
    assert pieces[0] == "x" * 2990
    assert pieces[1] == "```python\ncode\n```"


def test_split_rejects_a_limit_too_small_for_fences() -> None:
    with pytest.raises(ValueError, match="at least"):
        split_text("text", 10)
