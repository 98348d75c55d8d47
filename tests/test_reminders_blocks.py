"""The reminder and escalation texts: who is mentioned, what is escaped, how the time left reads. No I/O."""

from __future__ import annotations

from dataclasses import replace

from bot.approvals import Approval, State
from bot.slack.blocks.reminders import escalation_text, reminder_text, still_to_decide

DEADLINE_MS = 1_800_000_000_000


def approval(step: int = 1, workflow: str = "draft") -> Approval:
    return Approval(
        id=f"wf-abc.{step}",
        workflow_id="wf-abc",
        step=step,
        state=State.PENDING,
        prompt="Ship <!channel> & more",
        requester="U0ALICE123",
        workflow=workflow,
        created_ms=DEADLINE_MS - 3_600_000,
        deadline_ms=DEADLINE_MS + step,
        channel="C0APPROVAL",
        ts="1714000000.000100",
    )


def test_a_reminder_mentions_users_and_groups_and_says_when_it_expires() -> None:
    text = reminder_text([approval()], ["U0BOB12345", "S0REVIEWRS"])
    assert text.startswith("⏰ Reminder: <@U0BOB12345>, <!subteam^S0REVIEWRS>: this request (*draft*, step 1")
    assert f"It expires <!date^{(DEADLINE_MS + 1) // 1000}^{{ago}}" in text


def test_a_reminder_without_approvers_pings_nobody() -> None:
    text = reminder_text([approval()], [])
    assert "<@" not in text and "<!" not in text.replace("<!date^", "") and "Anyone in this channel may decide" in text


def test_a_card_of_several_calls_is_one_reminder_expiring_with_its_first_deadline() -> None:
    text = reminder_text([approval(2), approval(3)], ["U0BOB12345"])
    assert "2 requests on this card" in text and "are still waiting" in text
    assert f"<!date^{(DEADLINE_MS + 2) // 1000}^" in text


def test_text_from_the_request_is_escaped() -> None:
    hostile = approval(workflow="<!channel> & <https://evil|x>")
    for text in (reminder_text([hostile], ["U0BOB12345"]), escalation_text([hostile], "", waited_s=90)):
        assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;" in text


def test_an_escalation_links_the_card_and_mentions_only_its_group() -> None:
    link = "https://acme.slack.com/archives/C0APPROVAL/p1714000000000100"
    text = escalation_text([approval()], link, waited_s=1800, group="S0LEADS123")
    assert text.startswith("🚨 Escalation: <!subteam^S0LEADS123>: a request (*draft*, step 1")
    assert "asked by <@U0ALICE123> in <#C0APPROVAL>, has waited 30 minutes" in text
    assert text.endswith(f"<{link}|Open the card>")
    assert "<!subteam" not in escalation_text([approval()], link, waited_s=5)


def test_an_approver_who_approved_towards_a_quorum_is_not_reminded() -> None:
    counted = replace(approval(), approved_by=("U0ALICE123",))
    assert still_to_decide(["U0ALICE123", "U0BOB12345", "S0REVIEWRS"], [counted]) == ["U0BOB12345", "S0REVIEWRS"]
    assert still_to_decide(["U0ALICE123"], [counted]) == ["U0ALICE123"]  # nobody else could: all are reminded
    assert still_to_decide([], [counted]) == []
