"""The approval card, pending and decided: structure, escaping, limits, approvers, expiry, long text."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.approvals.models import Approval, State
from bot.sandbox.blockkit import check_blocks
from bot.slack import blocks
from bot.slack.blocks import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_REVISE,
    ACTIONS_BLOCK_ID,
    ANYONE_MAY_DECIDE,
    FENCE,
    MAX_BLOCKS,
    MAX_CARD_TEXT,
    MAX_TEXT_CHARS,
    SECTION_LIMIT,
    TRUNCATED_NOTE,
    decided_blocks,
    decision_text,
    escape_mrkdwn,
    prompt_blocks,
    prompt_overflow,
    prompt_text,
    slack_len,
    unescape_mrkdwn,
)

CREATED = 1_714_000_000_000
DEADLINE = CREATED + 3_600_000
DATE = re.compile(r"<!date\^\d+\^[^|<>]*\|[0-9: -]+ UTC>")
EVIL = "Ping <!channel> and <!here>, <@U0EVIL1234> & <https://evil.example|click> </b>"
OURS = re.compile(r"<@(U0ALICE123|U0BOB45678|U0CAROL999|W0GRID1234)>|<!subteam\^S0OPS12345>")


def make(prompt: str = "Draft ready. Post it?", **changes: Any) -> Approval:
    approval = Approval(
        id="wf1a2b.1",
        workflow_id="wf1a2b",
        step=1,
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
    decided(State.CANCELLED, decider="workflow", feedback="superseded: the run now asks <something> else"),
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


def texts(card: list[dict[str, Any]]) -> list[str]:
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

    walk(card)
    return found


def assert_valid(card: list[dict[str, Any]]) -> None:
    """Slack's documented limits, counted in UTF-16 units, plus what slack-sdk itself validates."""
    assert 0 < len(card) <= MAX_BLOCKS
    ids = [block["block_id"] for block in card]
    assert len(ids) == len(set(ids))
    assert all(len(block_id) <= 255 for block_id in ids)
    assert all(0 < slack_len(text) <= SECTION_LIMIT for text in texts(card))
    assert sum(slack_len(text) for text in texts(card)) <= MAX_CARD_TEXT
    for block in card:
        if block["type"] == "header":
            assert slack_len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert all(slack_len(button["text"]["text"]) <= 75 for button in block["elements"])
            for confirm in (button["confirm"] for button in block["elements"] if "confirm" in button):
                assert slack_len(confirm["title"]["text"]) <= 100
                assert slack_len(confirm["text"]["text"]) <= 300
                assert slack_len(confirm["confirm"]["text"]) <= 30
                assert slack_len(confirm["deny"]["text"]) <= 30
    problems = check_blocks(card)  # the strict emulator's rules, as Slack would answer
    assert not problems, (problems.errors, problems.text_total)
    parsed = Block.parse_all(card)
    assert None not in parsed
    for block in parsed:
        block.validate_json()
    assert [block.to_dict() for block in parsed] == card


def assert_no_unescaped_control(value: object) -> None:
    for text in strings(value):
        ours = OURS.sub("", DATE.sub("", text))
        assert "<" not in ours and ">" not in ours, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", ours), text


def meta(card: list[dict[str, Any]]) -> str:
    return str(card[1]["text"]["text"])


def test_small_prompt_structure() -> None:
    card = prompt_blocks(make())
    assert_valid(card)
    assert [(block["type"], block["block_id"]) for block in card] == [
        ("header", "approval_header"),
        ("section", "approval_meta"),
        ("section", "approval_text_0"),
        ("actions", ACTIONS_BLOCK_ID),
    ]
    assert card[0]["text"] == {"type": "plain_text", "text": "Approval needed", "emoji": True}
    assert meta(card).startswith("*Requested by* <@U0ALICE123> for *release-notes*, step 1 (`wf1a2b.1`)")
    assert card[2]["text"] == {"type": "mrkdwn", "text": "Draft ready. Post it?"}
    approve, revise, cancel = card[3]["elements"]
    assert approve == {
        "type": "button",
        "action_id": ACTION_APPROVE,
        "text": {"type": "plain_text", "text": "Approve", "emoji": True},
        "value": "wf1a2b.1",
        "style": "primary",
    }
    assert revise["action_id"] == ACTION_REVISE
    assert "style" not in revise
    assert cancel["action_id"] == ACTION_CANCEL
    assert cancel["style"] == "danger"
    assert cancel["confirm"]["title"]["text"] == "Cancel this request?"
    assert prompt_overflow(make()) == []


def test_the_step_is_shown_as_the_bridge_numbers_it() -> None:
    first = prompt_blocks(make())
    assert "step 1 (" in meta(first)
    assert "step 0" not in " ".join(strings(first))
    assert prompt_text(make()).startswith("Approval needed for release-notes step 1: ")
    third = make(id="wf1a2b.3", step=3)
    assert "step 3 (" in meta(prompt_blocks(third))
    assert decision_text(dataclasses.replace(third, state=State.APPROVED, decider="U0BOB45678")).endswith(
        "(release-notes step 3)"
    )


def test_expiry_stays_true_as_time_passes() -> None:
    line = next(line for line in meta(prompt_blocks(make())).split("\n") if line.startswith("*Expires:*"))
    # Slack renders {ago} for each reader at reading time: "in 59 minutes", later "in 3 minutes".
    date = f"<!date^{DEADLINE // 1000}^{{ago}} ({{date_short_pretty}} at {{time}})|2024-04-25 00:06 UTC>"
    assert line == f"*Expires:* {date}"
    assert not re.search(r"\(in \d+", meta(prompt_blocks(make())))  # no static countdown frozen at posting time


def test_now_ms_is_gone() -> None:
    with pytest.raises(TypeError):
        prompt_blocks(make(), now_ms=CREATED)  # type: ignore[call-arg]


def test_approvers_are_mentioned_so_they_are_notified() -> None:
    approvers = ["U0BOB45678", "W0GRID1234", "S0OPS12345"]
    card = prompt_blocks(make(), approvers=approvers)
    assert_valid(card)
    assert "*Approvers:* <@U0BOB45678>, <@W0GRID1234>, <!subteam^S0OPS12345>" in meta(card).split("\n")
    assert "(approvers: <@U0BOB45678>, <@W0GRID1234>, <!subteam^S0OPS12345>)" in prompt_text(
        make(), approvers=approvers
    )


def test_approvers_without_mentions_are_counted_not_named() -> None:
    approvers = ["U0BOB45678", "W0GRID1234", "S0OPS12345"]
    card = prompt_blocks(make(), approvers=approvers, mention=False)
    assert "*Who may decide:* only approvers (2 people and 1 user group)." in meta(card).split("\n")
    assert "<@U0BOB45678>" not in " ".join(strings(card))
    assert "<!subteam" not in " ".join(strings(card))
    assert "<@" not in prompt_text(make(), approvers=approvers, mention=False)
    one = prompt_blocks(make(), approvers=["U0BOB45678"], mention=False)
    assert "*Who may decide:* only approvers (1 person)." in meta(one)


def test_no_approvers_means_anyone_in_the_channel() -> None:
    for mention in (True, False):
        assert ANYONE_MAY_DECIDE in meta(prompt_blocks(make(), mention=mention)).split("\n")
    assert "anyone in this channel" in ANYONE_MAY_DECIDE


def test_many_approvers_stay_within_the_card_budget() -> None:
    approvers = [f"U0PERSON{i:04}" for i in range(500)]
    card = prompt_blocks(make(long_text(100_000)), approvers=approvers)
    assert_valid(card)
    line = next(line for line in meta(card).split("\n") if line.startswith("*Approvers:*"))
    assert re.search(r" and \d+ more$", line)
    assert slack_len(prompt_text(make(), approvers=approvers)) < 1000


def test_decided_card_drops_expiry_and_approvers() -> None:
    for approval in ALL_DECIDED:
        card = decided_blocks(approval)
        assert "Expires" not in meta(card)
        assert "Approvers" not in meta(card)
        assert ANYONE_MAY_DECIDE not in meta(card)


def test_untrusted_text_is_escaped_everywhere() -> None:
    previous = decided(State.REVISED, id="wf1a2b.1", step=1, feedback=EVIL)
    approval = make(EVIL, workflow=EVIL, id="wf1a2b.2", step=2, requester="<!channel>")
    approvers = ["U0BOB45678", "S0OPS12345", "<!channel>"]
    for card in [
        prompt_blocks(approval, previous=previous, approvers=approvers),
        decided_blocks(decided(State.REVISED, prompt=EVIL, feedback=EVIL)),
    ]:
        assert_valid(card)
        assert_no_unescaped_control(card)
        assert any("&lt;@U0EVIL1234&gt;" in text for text in strings(card))
    for text in [
        prompt_text(approval, approvers=approvers),
        *(decision_text(dataclasses.replace(a, workflow=EVIL, feedback=EVIL)) for a in ALL_DECIDED),
    ]:
        assert_no_unescaped_control(text)


def test_revision_context_quotes_feedback_and_links_the_previous_card() -> None:
    previous = decided(State.REVISED, channel="C0APPROVAL", ts="1714000000.000100", feedback="Make it " + "much " * 200)
    card = prompt_blocks(make(id="wf1a2b.2", step=2), previous=previous, workspace_url="https://acme.slack.com/")
    assert_valid(card)
    line = card[2]["elements"][0]["text"]
    assert line.startswith(
        "↩️ Revision 1: this is a revision of"
        " <https://acme.slack.com/archives/C0APPROVAL/p1714000000000100|the previous version>"
        " (step 1), requested by <@U0BOB45678>"
    )
    assert "Feedback: “Make it much" in line
    assert line.endswith("…”")
    assert slack_len(line) < 500


def test_a_revised_card_shows_what_changed_escaped_and_compact() -> None:
    before = "Subject: Launch\nWe launch on Monday.\nThanks, the team"
    after = "Subject: Launch\nWe launch on Tuesday <!channel> & celebrate.\nThanks, the team"
    previous = decided(State.REVISED, prompt=before, feedback="say Tuesday")
    card = prompt_blocks(make(after, id="wf1a2b.2", step=2), previous=previous, revision=2, max_revisions=5)
    assert_valid(card)

    diff = next(b["text"]["text"] for b in card if b["block_id"] == "approval_diff")
    assert diff.splitlines()[1:] == [
        "```",
        "-We launch on Monday.",
        "+We launch on Tuesday &lt;!channel&gt; &amp; celebrate.",
        "```",
    ]  # only what changed, never the unchanged lines
    assert "Revision 2 of at most 5" in card[2]["elements"][0]["text"]


def test_the_last_revision_allowed_says_so_and_a_revise_on_it_says_the_run_stopped() -> None:
    previous = decided(State.REVISED, feedback="again")
    last = make(id="wf1a2b.6", step=6)
    pending = prompt_blocks(last, previous=previous, revision=5, max_revisions=5)
    assert "a Revise here ends the run" in pending[2]["elements"][0]["text"]
    assert (
        "a Revise here ends the run"
        not in prompt_blocks(last, previous=previous, revision=4, max_revisions=5)[2]["elements"][0]["text"]
    )

    revised = dataclasses.replace(last, state=State.REVISED, decider="U0BOB45678", decided_ms=CREATED + 5)
    outcome = decided_blocks(revised, previous=previous, revision=5, max_revisions=5)[-1]["elements"][0]["text"]
    assert "MAX_REVISIONS is 5, so the run stopped here" in outcome


def long_text(size: int, seed: int | None = None) -> str:
    rng = random.Random(size if seed is None else seed)
    words = ["alpha", "&", "<b>", "beta&gamma", "<!channel>", "delta", "x" * 40, "\n", "\n\n", "ε", "😀", "done."]
    parts: list[str] = []
    total = 0
    while total < size:
        parts.append(rng.choice(words))
        total += len(parts[-1]) + 1
    return " ".join(parts)[:size]


def section_texts(card: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in card if b["block_id"].startswith("approval_text_")]


@pytest.mark.parametrize("size", [5_000, 10_000, 100_000])
def test_long_prompts_fit_and_overflow_reconstructs(size: int) -> None:
    prompt = long_text(size)
    approval = make(prompt)
    card = prompt_blocks(approval, approvers=["U0BOB45678"])
    assert_valid(card)
    assert card[-1]["block_id"] == ACTIONS_BLOCK_ID
    shown = "".join(unescape_mrkdwn(text) for text in section_texts(card))
    overflow = prompt_overflow(approval)
    if slack_len(escape_mrkdwn(prompt)) <= MAX_TEXT_CHARS:
        assert shown == prompt
        assert overflow == []
        assert TRUNCATED_NOTE not in strings(card)
    else:
        assert prompt.startswith(shown)
        assert slack_len(escape_mrkdwn(shown)) <= MAX_TEXT_CHARS
        assert card[-2]["elements"][0]["text"] == TRUNCATED_NOTE
        assert all(0 < slack_len(chunk) <= 3000 for chunk in overflow)
        assert "".join(unescape_mrkdwn(chunk) for chunk in overflow) == prompt
    for state in (State.APPROVED, State.REVISED, State.CANCELLED, State.EXPIRED):
        assert_valid(decided_blocks(dataclasses.replace(approval, state=state, feedback="x" * 5000)))


def test_the_fullest_card_stays_under_slacks_total() -> None:
    """Every part at its cap at once: long names, feedback, approvers, text that fills the sections."""
    worst = make("&" * 50_000, workflow="&" * 500, requester="&" * 500, id="w" * 64 + ".99", workflow_id="w" * 64)
    previous = decided(
        State.REVISED, channel="C0APPROVAL", ts="1714000000.000100", decider="&" * 300, feedback="<" * 5000
    )
    approvers = [f"U0PERSON{i:04}" for i in range(300)]
    assert_valid(prompt_blocks(worst, previous=previous, approvers=approvers, workspace_url="https://a.slack.com"))
    revised = dataclasses.replace(
        worst, state=State.REVISED, decider="&" * 300, decided_ms=DEADLINE, feedback="&" * 9000
    )
    assert_valid(decided_blocks(revised, previous=previous, workspace_url="https://a.slack.com"))


def test_code_fences_are_never_split_across_sections_or_thread_chunks() -> None:
    code = "".join(f"    step_{i}()  # do thing {i} & check <result>\n" for i in range(900))
    prompt = f"The plan:\n```python\n{code}```\nApprove?"
    approval = make(prompt)
    card = prompt_blocks(approval)
    assert_valid(card)
    sections = section_texts(card)
    assert len(sections) > 1
    for index, text in enumerate(sections):
        assert text.count(FENCE) % 2 == 0, text[-60:]
        if index:
            assert text.startswith("```python\n")
    overflow = prompt_overflow(approval)
    assert overflow
    for index, chunk in enumerate(overflow):
        assert slack_len(chunk) <= 3000
        assert chunk.count(FENCE) % 2 == 0
        if 0 < index < len(overflow) - 1:
            assert chunk.startswith("```python\n") and chunk.endswith("\n```")
    assert overflow[-1].endswith("```\nApprove?")


def test_ten_thousand_plain_chars_fit_without_overflow() -> None:
    prompt = ("lorem ipsum dolor sit amet " * 400)[:10_000]
    card = prompt_blocks(make(prompt))
    assert_valid(card)
    assert prompt_overflow(make(prompt)) == []
    assert "".join(section_texts(card)) == prompt


def test_emoji_count_double_against_the_text_budget() -> None:
    prompt = "😀" * 6000  # 6,000 code points, 12,000 UTF-16 units
    card = prompt_blocks(make(prompt))
    assert_valid(card)
    assert prompt_overflow(make(prompt))  # does not fit: the thread carries it


def test_empty_prompt_still_valid() -> None:
    for prompt in ["", "   \n  "]:
        card = prompt_blocks(make(prompt))
        assert_valid(card)
        assert card[2]["text"]["text"] == "_(the agent sent no text)_"


@pytest.mark.parametrize("approval", ALL_DECIDED, ids=lambda a: f"{a.state}-{a.decider}")
def test_decided_blocks_have_no_actions(approval: Approval) -> None:
    card = decided_blocks(approval, previous=decided(State.REVISED, feedback="shorter"))
    assert_valid(card)
    assert all(block["type"] != "actions" for block in card)
    assert all(block["block_id"].endswith(f".{approval.state}") for block in card)
    assert card[-1]["type"] == "context"
    assert card[-1]["block_id"] == f"approval_outcome.{approval.state}"


def test_outcome_lines() -> None:
    at = f"<!date^{(CREATED + 60_000) // 1000}^{{date_short_pretty}} at {{time}}|2024-04-24 23:07 UTC>"
    lines = [decided_blocks(a)[-1]["elements"][0]["text"] for a in ALL_DECIDED]
    assert lines[0] == f"✅ Approved by <@U0BOB45678> at {at}"
    assert lines[1] == f"✏️ Revision requested by <@U0BOB45678> at {at} — feedback: Shorter, &amp; no &lt;!channel&gt;"
    assert lines[2] == f"🛑 Cancelled by <@U0BOB45678> at {at}"
    assert lines[3].startswith("🛑 Cancelled by the workflow at <!date^")
    assert lines[3].endswith(" — superseded: the run now asks &lt;something&gt; else")  # the bot says why
    assert re.fullmatch(
        r"⌛ Expired at <!date\^\d+\^.*>: nobody decided, so nothing was done \(an expiry is not a refusal\)", lines[4]
    )
    assert decision_text(ALL_DECIDED[0]) == f"✅ Approved by <@U0BOB45678> at {at} (release-notes step 1)"


def test_feedback_decoded_by_the_slack_side_is_shown_escaped() -> None:
    feedback = "Use https://example.com/docs?a=1&b=2 (Docs) and ask @Bob <b>now</b>"
    line = blocks.outcome_line(decided(State.REVISED, feedback=feedback))
    shown = "Use https://example.com/docs?a=1&amp;b=2 (Docs) and ask @Bob &lt;b&gt;now&lt;/b&gt;"
    assert line.endswith(f"feedback: {shown}")


def test_decided_blocks_refuse_a_pending_approval() -> None:
    with pytest.raises(ValueError, match="pending"):
        decided_blocks(make())


def test_prompt_text() -> None:
    assert prompt_text(make()) == "Approval needed for release-notes step 1: Draft ready. Post it?"
    long = prompt_text(make("word & " * 100))
    assert long.startswith("Approval needed for release-notes step 1: word &amp; word")
    assert long.endswith("…")


def test_a_withdrawn_card_has_no_buttons_and_says_why() -> None:
    approval = make(long_text(30_000))
    card = blocks.withdrawn_blocks(approval)
    assert_valid(card)
    assert all(block["type"] != "actions" for block in card)
    assert card[0]["text"]["text"] == "⚠️ Withdrawn"
    assert "Expires" not in meta(card)
    assert card[-1]["elements"][0]["text"] == blocks.WITHDRAWN_NOTE
    pending_ids = {block["block_id"] for block in prompt_blocks(approval)}
    assert not pending_ids & {block["block_id"] for block in card}  # Slack wants new block_ids on update
    assert blocks.withdrawn_text(approval).startswith("⚠️ Withdrawn: release-notes step 1. The bot could not record")
    lost = blocks.withdrawn_blocks(approval, blocks.LOST_NOTE)
    assert_valid(lost)
    assert lost[-1]["elements"][0]["text"].startswith("The record of this request was lost")
