from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.approvals.models import Approval, State
from bot.slack.blocks import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_REVISE,
    ACTIONS_BLOCK_ID,
    MAX_BLOCKS,
    SECTION_LIMIT,
    TRUNCATED_NOTE,
    already_decided_text,
    decided_blocks,
    decision_text,
    escape_mrkdwn,
    not_an_approver_text,
    prompt_blocks,
    prompt_overflow,
    prompt_text,
    split_text,
    unescape_mrkdwn,
    unknown_approval_text,
    usage_text,
)

CREATED = 1_714_000_000_000
DEADLINE = CREATED + 3_600_000
DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} at \{time\}\|[0-9: -]+ UTC>")
EVIL = "Ping <!channel> and <!here>, <@U0EVIL1234> & <https://evil.example|click> </b>"


def make(prompt: str = "Draft ready. Post it?", **changes: Any) -> Approval:
    approval = Approval(
        id="wf1a2b.0",
        workflow_id="wf1a2b",
        step=0,
        state=State.PENDING,
        prompt=prompt,
        requester="U0ALICE123",
        workflow="release-notes",
        created_ms=CREATED,
        deadline_ms=DEADLINE,
    )
    return dataclasses.replace(approval, **changes)


def decided(state: State, **changes: Any) -> Approval:
    return make(**{"state": state, "decider": "U0BOB45678", "decided_ms": CREATED + 60_000, **changes})


ALL_DECIDED = [
    decided(State.APPROVED),
    decided(State.REVISED, feedback="Shorter, & no <!channel>"),
    decided(State.CANCELLED),
    decided(State.CANCELLED, decider="workflow"),
    make(state=State.EXPIRED, decider="system", decided_ms=DEADLINE),
]


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain_text ``text`` in the blocks."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if value.get("type") in ("mrkdwn", "plain_text"):
                found.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return found


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= MAX_BLOCKS
    ids = [block["block_id"] for block in blocks]
    assert len(ids) == len(set(ids))
    assert all(len(block_id) <= 255 for block_id in ids)
    assert all(len(text) <= SECTION_LIMIT for text in texts(blocks))
    parsed = Block.parse_all(blocks)
    assert None not in parsed
    for block in parsed:
        block.validate_json()
    assert [block.to_dict() for block in parsed] == blocks


def assert_no_unescaped_control(value: object) -> None:
    for text in strings(value):
        ours = DATE.sub("", text)
        ours = re.sub(r"<@(U0ALICE123|U0BOB45678)>", "", ours)
        assert "<" not in ours and ">" not in ours, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", ours), text


def test_escape_and_unescape() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape_mrkdwn("&lt;") == "&amp;lt;"
    assert escape_mrkdwn("'\"*_~`") == "'\"*_~`"
    for text in ["&lt;", "&amp;amp;", EVIL, "<<&&>>", ""]:
        assert unescape_mrkdwn(escape_mrkdwn(text)) == text


def test_small_prompt_structure() -> None:
    blocks = prompt_blocks(make(), now_ms=CREATED)
    assert_valid(blocks)
    assert [(block["type"], block["block_id"]) for block in blocks] == [
        ("header", "approval_header"),
        ("section", "approval_meta"),
        ("section", "approval_text_0"),
        ("actions", ACTIONS_BLOCK_ID),
    ]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Approval needed", "emoji": True}
    meta = blocks[1]["text"]["text"]
    assert meta.startswith("*Requested by* <@U0ALICE123> for *release-notes*, step 0 (`wf1a2b.0`)")
    assert (
        f"*Expires:* <!date^{DEADLINE // 1000}^{{date_short_pretty}} at {{time}}|2024-04-25 00:06 UTC> (in 1 h)" in meta
    )
    assert blocks[2]["text"] == {"type": "mrkdwn", "text": "Draft ready. Post it?"}
    approve, revise, cancel = blocks[3]["elements"]
    assert approve == {
        "type": "button",
        "action_id": ACTION_APPROVE,
        "text": {"type": "plain_text", "text": "Approve", "emoji": True},
        "value": "wf1a2b.0",
        "style": "primary",
    }
    assert revise["action_id"] == ACTION_REVISE
    assert "style" not in revise
    assert revise["value"] == "wf1a2b.0"
    assert cancel["action_id"] == ACTION_CANCEL
    assert cancel["style"] == "danger"
    assert cancel["value"] == "wf1a2b.0"
    assert cancel["confirm"]["title"]["text"] == "Cancel this request?"
    assert cancel["confirm"]["style"] == "danger"
    assert prompt_overflow(make()) == []


def test_action_ids() -> None:
    assert (ACTION_APPROVE, ACTION_REVISE, ACTION_CANCEL) == ("approval_approve", "approval_revise", "approval_cancel")
    assert ACTIONS_BLOCK_ID == "approval_actions"


def test_untrusted_text_is_escaped_everywhere() -> None:
    previous = decided(State.REVISED, step=0, feedback=EVIL)
    approval = make(EVIL, workflow=EVIL, id="wf1a2b.1", step=1, requester="<!channel>")
    for blocks in [prompt_blocks(approval, previous=previous), decided_blocks(decided(State.REVISED, prompt=EVIL))]:
        assert_valid(blocks)
        assert_no_unescaped_control(blocks)
        assert any("&lt;@U0EVIL1234&gt;" in text for text in strings(blocks))
    for text in [
        prompt_text(approval),
        *(decision_text(dataclasses.replace(a, workflow=EVIL, feedback=EVIL)) for a in ALL_DECIDED),
        *(already_decided_text(dataclasses.replace(a, decider=EVIL)) for a in ALL_DECIDED),
        usage_text({"evil": EVIL}),
    ]:
        assert_no_unescaped_control(text)


def test_requester_that_is_not_an_id_is_escaped() -> None:
    meta = prompt_blocks(make(requester="bob <b>"))[1]["text"]["text"]
    assert "*Requested by* bob &lt;b&gt; for" in meta


def test_revision_context_quotes_feedback() -> None:
    previous = decided(State.REVISED, feedback="Make it " + "much " * 200 + "shorter & <b>")
    blocks = prompt_blocks(make(id="wf1a2b.1", step=1), previous=previous)
    assert_valid(blocks)
    context = blocks[2]
    assert context["type"] == "context"
    line = context["elements"][0]["text"]
    assert line.startswith("↩️ This is a revision of the previous prompt (step 0), requested by <@U0BOB45678")
    assert "Feedback: “Make it much" in line
    assert line.endswith("…”")
    assert len(line) < 500


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_long_prompts_fit_and_overflow_reconstructs(size: int) -> None:
    prompt = long_text(size)
    approval = make(prompt)
    blocks = prompt_blocks(approval)
    assert_valid(blocks)
    assert blocks[-1]["block_id"] == ACTIONS_BLOCK_ID
    sections = [b["text"]["text"] for b in blocks if b["block_id"].startswith("approval_text_")]
    shown = "".join(unescape_mrkdwn(text) for text in sections)
    overflow = prompt_overflow(approval)
    if len(escape_mrkdwn(prompt)) <= 12_000:
        assert shown == prompt
        assert overflow == []
        assert TRUNCATED_NOTE not in strings(blocks)
    else:
        assert prompt.startswith(shown)
        assert len(escape_mrkdwn(shown)) <= 12_000
        assert blocks[-2]["elements"][0]["text"] == TRUNCATED_NOTE
        assert all(0 < len(chunk) <= 3000 for chunk in overflow)
        assert "".join(unescape_mrkdwn(chunk) for chunk in overflow) == prompt
        assert all(escape_mrkdwn(unescape_mrkdwn(chunk)) == chunk for chunk in overflow)
    for decided_card in (decided_blocks(dataclasses.replace(approval, state=s)) for s in ALL_STATES_DECIDED):
        assert_valid(decided_card)


ALL_STATES_DECIDED = [State.APPROVED, State.REVISED, State.CANCELLED, State.EXPIRED]


def long_text(size: int) -> str:
    rng = random.Random(size)
    words = ["alpha", "&", "<b>", "beta&gamma", "<!channel>", "delta", "x" * 40, "\n", "\n\n", "ε", "done."]
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        parts.append(rng.choice(words))
    return " ".join(parts)[:size]


def test_ten_thousand_plain_chars_fit_without_overflow() -> None:
    prompt = ("lorem ipsum dolor sit amet " * 400)[:10_000]
    blocks = prompt_blocks(make(prompt))
    assert_valid(blocks)
    assert prompt_overflow(make(prompt)) == []
    sections = [b["text"]["text"] for b in blocks if b["block_id"].startswith("approval_text_")]
    assert "".join(sections) == prompt


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


def test_split_prefers_line_then_word_boundaries() -> None:
    text = ("word " * 500 + "\n") * 4
    assert all(chunk.endswith("\n") for chunk in split_text(text)[:-1])
    words = "word " * 2000
    assert all(chunk.endswith(" ") for chunk in split_text(words)[:-1])
    assert split_text("x" * 7000) == ["x" * 3000, "x" * 3000, "x" * 1000]
    assert split_text("") == []


def test_empty_prompt_still_valid() -> None:
    for prompt in ["", "   \n  "]:
        blocks = prompt_blocks(make(prompt))
        assert_valid(blocks)
        assert blocks[2]["text"]["text"] == "_(the agent sent no text)_"


@pytest.mark.parametrize("approval", ALL_DECIDED, ids=lambda a: f"{a.state}-{a.decider}")
def test_decided_blocks_have_no_actions(approval: Approval) -> None:
    blocks = decided_blocks(approval, previous=decided(State.REVISED, feedback="shorter"))
    assert_valid(blocks)
    assert all(block["type"] != "actions" for block in blocks)
    assert all(block["block_id"].endswith(f".{approval.state}") for block in blocks)
    assert not any("Expires" in text for text in strings(blocks))
    assert blocks[-1]["type"] == "context"
    assert blocks[-1]["block_id"] == f"approval_outcome.{approval.state}"


def test_outcome_lines() -> None:
    at = f"<!date^{(CREATED + 60_000) // 1000}^{{date_short_pretty}} at {{time}}|2024-04-24 23:07 UTC>"
    lines = [decided_blocks(a)[-1]["elements"][0]["text"] for a in ALL_DECIDED]
    assert lines[0] == f"✅ Approved by <@U0BOB45678> at {at}"
    assert lines[1] == f"✏️ Revision requested by <@U0BOB45678> at {at} — feedback: Shorter, &amp; no &lt;!channel&gt;"
    assert lines[2] == f"🛑 Cancelled by <@U0BOB45678> at {at}"
    assert lines[3].startswith("🛑 Cancelled by the workflow at <!date^")
    assert re.fullmatch(r"⌛ Expired at <!date\^\d+\^.*>, no decision; the workflow was cancelled", lines[4])
    assert decision_text(ALL_DECIDED[0]) == f"✅ Approved by <@U0BOB45678> at {at} (release-notes step 0)"


def test_decided_blocks_refuse_a_pending_approval() -> None:
    with pytest.raises(ValueError, match="pending"):
        decided_blocks(make())


def test_prompt_text() -> None:
    assert prompt_text(make()) == "Approval needed for release-notes step 0: Draft ready. Post it?"
    long = prompt_text(make("word & " * 100))
    assert long.startswith("Approval needed for release-notes step 0: word &amp; word")
    assert long.endswith("…")


def test_plain_answers() -> None:
    approved, _, cancelled, _, expired = ALL_DECIDED
    assert already_decided_text(approved).startswith("This request was already approved by <@U0BOB45678> at <!date^")
    assert already_decided_text(cancelled).startswith("This request was already cancelled by <@U0BOB45678> at ")
    assert re.fullmatch(r"This request expired at <!date\^\d+\^.*>\.", already_decided_text(expired))
    assert not_an_approver_text() == ("You are not on the approvers list for this bot, so your click was not recorded.")
    assert unknown_approval_text() == "This approval is unknown or too old; nothing was recorded."


def test_usage_text() -> None:
    text = usage_text({"plan": "Plan a task <step by step>", "draft": "Draft & revise"})
    assert "`/agent-task &lt;task&gt;`" in text
    assert "`/agent-task &lt;workflow&gt;: &lt;task&gt;`" in text
    assert "`/agent-task help`" in text
    assert "• `draft`: Draft &amp; revise\n• `plan`: Plan a task &lt;step by step&gt;" in text
    assert "No workflows" in usage_text({})
    assert "(draft)" in usage_text({"draft": "x"}, default="draft")
