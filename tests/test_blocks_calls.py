"""The card of several tool calls: each call in full with its own buttons or outcome, "Approve all" while more
than one waits, Slack's limits kept (checked by the emulator's Block Kit rules), escaping, new block ids on every
change."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.approvals.models import Approval, State, Terms
from bot.sandbox.blockkit import check_blocks
from bot.slack import blocks
from bot.slack.blocks import ACTION_APPROVE, ACTION_APPROVE_ALL, MAX_CALLS, SECTION_LIMIT, calls_blocks, fits_one_card

CREATED = 1_714_000_000_000


def call(step: int, prompt: str = "", **changes: Any) -> Approval:
    approval = Approval(
        id=f"wf9.{step}",
        workflow_id="wf9",
        step=step,
        state=State.PENDING,
        prompt=prompt or f'Run the tool `send_email`?\nArguments:\n```\n{{"to": "p{step}@example.com"}}\n```',
        requester="U0ALICE123",
        workflow="ops",
        created_ms=CREATED,
        deadline_ms=CREATED + 3_600_000,
        terms=Terms(kind="tool", tool="send_email", rule="default"),
    )
    return dataclasses.replace(approval, **changes)


def values(card: list[dict[str, Any]], action_id: str) -> list[str]:
    return [e["value"] for b in card if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id]


def text_of(card: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in card if b["type"] == "section")


def test_every_pending_call_has_its_own_buttons_and_approve_all_covers_them() -> None:
    card = calls_blocks([call(1), call(2), call(3)], approvers=["U0BOB45678"])

    assert not check_blocks(card)
    assert values(card, ACTION_APPROVE) == ["wf9.1", "wf9.2", "wf9.3"]  # no digest on these records
    assert values(card, ACTION_APPROVE_ALL) == ["wf9.1,wf9.2,wf9.3"]  # exactly the calls this version shows
    assert "p2@example.com" in text_of(card) and "Call 3 of 3" in text_of(card)


def test_a_decided_call_shows_its_outcome_and_approve_all_goes_when_one_call_is_left() -> None:
    decided = call(1, state=State.CANCELLED, decider="U0BOB45678", decided_ms=CREATED + 1000)
    before = calls_blocks([call(1), call(2)])
    after = calls_blocks([decided, call(2)])

    assert values(after, ACTION_APPROVE) == ["wf9.2"] and values(after, ACTION_APPROVE_ALL) == []
    with_digest = calls_blocks([call(1, digest="ab" * 32), call(2, digest="cd" * 32)])
    assert values(with_digest, ACTION_APPROVE_ALL) == [f"wf9.1|{'ab' * 8},wf9.2|{'cd' * 8}"]
    assert any(
        "Cancelled by <@U0BOB45678>" in e["text"] for b in after if b["type"] == "context" for e in b["elements"]
    )
    assert not {b["block_id"] for b in before} & {b["block_id"] for b in after}  # Slack asks for new ids on update


def test_a_quorum_call_shows_its_progress() -> None:
    card = calls_blocks([call(1, approved_by=("U0BOB45678",), terms=Terms(kind="tool", quorum=2)), call(2)])

    progress = [e["text"] for b in card if b["type"] == "context" for e in b["elements"]]
    assert progress == ["👥 1 of 2 approvals: <@U0BOB45678>"]


def test_the_agents_text_is_escaped() -> None:
    card = calls_blocks([call(1, prompt="Run `send_email`? <!channel> & <@U0EVIL1234>"), call(2)])

    assert "&lt;!channel&gt; &amp; &lt;@U0EVIL1234&gt;" in text_of(card) and "<!channel>" not in text_of(card)


def test_calls_share_a_card_only_when_each_is_shown_in_full() -> None:
    assert fits_one_card([call(1), call(2)])
    assert not fits_one_card([call(1)])  # a single call has a card of its own
    assert not fits_one_card([call(n) for n in range(1, MAX_CALLS + 2)])
    assert fits_one_card([call(n) for n in range(1, MAX_CALLS + 1)])
    assert not check_blocks(calls_blocks([call(n) for n in range(1, MAX_CALLS + 1)]))  # ten calls stay within 50 blocks
    assert not fits_one_card([call(1, prompt="x" * SECTION_LIMIT), call(2)])  # never an excerpt of what is approved


def test_the_fallback_text_names_the_tools_and_what_is_left() -> None:
    decided = call(1, state=State.APPROVED, decider="U0BOB45678", decided_ms=CREATED + 1)
    assert blocks.calls_text([decided, call(2)]) == "2 tool calls for ops (send_email): 1 waiting for a decision"
