"""The App Home view and its Revise modal: what each lists, escaping, the card's own buttons, Slack's limits."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.approvals.audit import AuditEntry
from bot.approvals.models import Approval, State, Terms
from bot.sandbox.home import home_problems
from bot.sandbox.views import check_view
from bot.slack import blocks
from bot.slack.blocks.approval import button_value
from bot.slack.blocks.home import (
    MAX_HOME_BLOCKS,
    MAX_RECENT,
    Waiting,
    decision_lines,
    feedback_of,
    feedback_view,
    home_view,
    request_lines,
)
from bot.slack.home import may_decide

CREATED = 1_714_000_000_000


def approval(n: int = 1, **changes: Any) -> Approval:
    base = Approval(
        id=f"wf-{n:04d}.1",
        workflow_id=f"wf-{n:04d}",
        step=1,
        state=State.PENDING,
        prompt="Ship <!channel> & <script>alert(1)</script> now",
        requester="U0ALICE001",
        workflow="draft",
        created_ms=CREATED,
        deadline_ms=CREATED + 3_600_000,
        channel="C0APPROVAL",
        ts=f"1714000000.{n:06d}",
        digest="ab" * 32,
    )
    return dataclasses.replace(base, **changes)


def entry(event: str, approval_id: str, user: str, at_ms: int, **fields: Any) -> AuditEntry:
    return AuditEntry(
        entry_id=f"{at_ms}-0",
        event=event,
        approval_id=approval_id,
        workflow_id=approval_id.rsplit(".", 1)[0],
        step=1,
        workflow="draft <b>",
        user=user,
        at_ms=at_ms,
        feedback=fields.pop("feedback", ""),
        waited_ms=0,
        **fields,
    )


def texts(view: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in view["blocks"] if "text" in b and isinstance(b["text"], dict))


def test_an_entry_has_the_cards_buttons_but_edit_and_escapes_what_the_agent_wrote() -> None:
    item = approval(terms=Terms(kind="draft"))  # a draft: its card offers Edit
    view = home_view(
        [Waiting(item, "https://sandbox.slack.com/archives/C0APPROVAL/p1714000000000001")], [], [], approver=True
    )
    (actions,) = [b for b in view["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        blocks.ACTION_APPROVE,
        blocks.ACTION_REVISE,
        blocks.ACTION_CANCEL,
    ]
    assert {e["value"] for e in actions["elements"]} == {button_value(item)} == {f"{item.id}|{'ab' * 8}"}
    assert actions["elements"][2]["confirm"]["confirm"]["text"] == "Cancel request"
    shown = texts(view)
    assert "&lt;!channel&gt; &amp; &lt;script&gt;" in shown and "<!channel>" not in shown
    assert "<https://sandbox.slack.com/archives/C0APPROVAL/p1714000000000001|Open the card" in shown
    assert home_problems(view) == []


def test_the_lists_are_capped_within_slacks_100_blocks() -> None:
    many = [Waiting(approval(n, terms=Terms(quorum=2), approved_by=("U0BOB00001",)), "") for n in range(40)]
    lines = [f"• line {n}" for n in range(MAX_RECENT)]
    view = home_view(many[:20], lines, lines, approver=True, notice="This request was already approved.", more=20)
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS and home_problems(view) == []
    assert view["blocks"][1]["text"]["text"] == "⚠️ This request was already approved."  # the notice, on top
    assert "(40)" in texts(view) and "…and 20 more" in str(view["blocks"])
    assert "1 of 2 approvals" in str(view["blocks"])


def test_nothing_waiting_says_why() -> None:
    assert "Nothing is waiting for you." in str(home_view([], [], [], approver=True)["blocks"])
    assert "You are not an approver" in str(home_view([], [], [], approver=False)["blocks"])


def test_what_waits_for_a_person_follows_the_engines_rules() -> None:
    mine = approval(requester="U0ALICE001", terms=Terms(self_approval=False))
    assert not may_decide("U0ALICE001", mine) and may_decide("U0BOB00001", mine)
    assert may_decide("U0ALICE001", approval(requester="U0ALICE001"))  # self-approval allowed
    counted = approval(terms=Terms(quorum=2), approved_by=("U0BOB00001",))
    assert not may_decide("U0BOB00001", counted) and may_decide("U0CAROL001", counted)
    assert not may_decide("U0BOB00001", approval(ts=""))  # no card yet: nothing to link to
    assert not may_decide("U0BOB00001", approval(state=State.APPROVED))


def test_recent_requests_and_decisions_newest_first() -> None:
    alice, bob = "U0ALICE001", "U0BOB00001"
    newest_first = [
        entry("revised", "wf-0003.1", bob, 6000, feedback="shorter & <b>"),
        entry("created", "wf-0003.1", alice, 5000),
        entry("approval_counted", "wf-0002.1", bob, 4000, count=1, quorum=2),
        entry("created", "wf-0002.1", alice, 3000),
        entry("approved", "wf-0001.1", bob, 2000, deciders=bob),
        entry("created", "wf-0001.1", alice, 1000),
    ]
    requests = request_lines(newest_first, alice, pending=["wf-0002.1"])
    assert len(requests) == 3
    assert requests[0].endswith(f"✏️ revision requested by <@{bob}>") and "*draft &lt;b&gt;*" in requests[0]
    assert requests[1].endswith("⏳ waiting") and requests[2].endswith(f"✅ approved by <@{bob}>")
    decisions = decision_lines(newest_first, bob)
    assert [line.split(" *")[0] for line in decisions] == [
        "• ✏️ You asked to revise",
        "• 👥 You approved (1 of 2)",
        "• ✅ You approved",
    ]
    assert decisions[0].endswith("shorter &amp; &lt;b&gt;")
    assert request_lines(newest_first, bob) == [] and decision_lines(newest_first, alice) == []


def test_the_revise_modal_is_valid_and_binds_the_version_seen() -> None:
    item = approval()
    view = feedback_view(item, "abababababababab")
    check_view(view)  # the emulator's modal rules (Slack's)
    view["state"] = {"values": {"home_feedback": {"feedback": {"type": "plain_text_input", "value": " Shorter. "}}}}
    assert feedback_of(view) == (item.id, "abababababababab", "Shorter.")
    view["state"]["values"]["home_feedback"]["feedback"]["value"] = "  "
    assert feedback_of(view) is None
    assert feedback_of({"private_metadata": "x|y", "state": {}}) is None
