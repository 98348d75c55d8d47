"""Private answers, thread messages and the requester's reports: plain words, escaped, within Slack's limits."""

from __future__ import annotations

import dataclasses
import re

from bot.approvals.models import Approval, State
from bot.runs import RunOutcome, RunStatus
from bot.slack.blocks import (
    FENCE,
    MAX_RESULT_PARTS,
    REPORT_LIMIT,
    already_decided_text,
    denied_text,
    dm_report_intro,
    non_approver_reply_text,
    not_an_approver_text,
    outcome_report,
    revise_already_asked_text,
    revise_request_text,
    slack_len,
    started_text,
    unescape_mrkdwn,
    unknown_approval_text,
    usage_text,
)

CREATED = 1_714_000_000_000
EVIL = "Ping <!channel> & <@U0EVIL1234>"


def approval(state: State, **changes: object) -> Approval:
    base = Approval(
        id="wf1.1", workflow_id="wf1", step=1, state=state, prompt="p", requester="U0ALICE123",
        workflow="draft", created_ms=CREATED, deadline_ms=CREATED + 3_600_000, decider="U0BOB45678",
        decided_ms=CREATED + 60_000,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def approved(output: str) -> RunOutcome:
    return RunOutcome("wf-1", "draft", RunStatus.APPROVED, output=output, decided_by="U0BOB45678")


def assert_plain(text: str) -> None:
    ours = re.sub(r"<@U0[A-Z0-9]+>|<#C0[A-Z0-9]+>|<!date\^[^<>]*>|<https://[^<>|]+\|[^<>]+>", "", text)
    assert "<" not in ours and ">" not in ours, text


def test_plain_answers() -> None:
    assert already_decided_text(approval(State.APPROVED)).startswith(
        "This request was already approved by <@U0BOB45678> at <!date^"
    )
    assert already_decided_text(approval(State.CANCELLED)).startswith("This request was already cancelled by <@U0B")
    expired = approval(State.EXPIRED, decider="system")
    assert re.fullmatch(r"This request expired at <!date\^\d+\^.*>\.", already_decided_text(expired))
    assert not_an_approver_text() == "You are not on the approvers list for this bot, so your click was not recorded."
    assert unknown_approval_text() == "This approval is unknown or too old; nothing was recorded."
    for state in (State.APPROVED, State.REVISED, State.CANCELLED):
        assert_plain(already_decided_text(approval(state, decider=EVIL)))


def test_revise_request_tells_how_feedback_reaches_the_agent() -> None:
    text = revise_request_text("U0BOB45678")
    assert text.startswith("<@U0BOB45678> asked for changes. Reply in this thread with what should change")
    assert "the first reply from an approver after this message goes back to the agent" in text
    with_bot = revise_request_text("W0GRID1234", bot_user="U0BOT12345")
    assert with_bot.startswith("<@W0GRID1234> asked for changes.")
    assert with_bot.endswith("unless they mention <@U0BOT12345>.")
    assert_plain(revise_request_text("<!channel>"))


def test_non_approver_reply_is_told_once() -> None:
    text = non_approver_reply_text()
    assert "Only approvers' replies can go back to the agent" in text
    assert "I will not tell you again for this request." in text


def test_usage_text() -> None:
    text = usage_text({"plan": "Plan a task <step by step>", "draft": "Draft & revise"})
    assert "`/agent-task &lt;task&gt;`" in text
    assert "`/agent-task &lt;workflow&gt;: &lt;task&gt;`" in text
    assert "• `draft`: Draft &amp; revise\n• `plan`: Plan a task &lt;step by step&gt;" in text
    assert "No workflows" in usage_text({})
    assert "(draft)" in usage_text({"draft": "x"}, default="draft")


def test_started_text_links_the_card_once_it_exists() -> None:
    before = started_text("draft", "wf-1", "Write <!channel> & more", "C0APPROVAL")
    assert before == (
        "Started *draft* (`wf-1`): Write &lt;!channel&gt; &amp; more\n"
        "Approval prompts will appear in <#C0APPROVAL>. I will tell you how it ends."
    )
    card = "https://acme.slack.com/archives/C0APPROVAL/p1714000000000100"
    after = started_text("draft", "wf-1", "Write it", "C0APPROVAL", card_link=card)
    assert after.endswith(f"\nApproval card: <{card}|here>. I will tell you how it ends.")
    without_task = started_text("draft", "wf-1", "", "C0APPROVAL", card_link=card)
    assert without_task == f"Started *draft* (`wf-1`)\nApproval card: <{card}|here>. I will tell you how it ends."


def test_dm_report_intro_says_where_it_came_from() -> None:
    card = "https://acme.slack.com/archives/C0APPROVAL/p1714000000000100"
    assert dm_report_intro("C0GENERAL1", "Draft the <b> notes", card) == (
        f"You asked in <#C0GENERAL1>: “Draft the &lt;b&gt; notes”. Card: <{card}|view>."
    )
    assert dm_report_intro("C0GENERAL1", "x") == "You asked in <#C0GENERAL1>: “x”."


def test_short_result_is_one_message() -> None:
    assert outcome_report(approved("Hello <team> & all")) == [
        "✅ Your *draft* (`wf-1`) was approved by <@U0BOB45678>. The approved result:\n"
        "```\nHello &lt;team&gt; &amp; all\n```"
    ]
    assert outcome_report(approved("  ")) == ["✅ Your *draft* (`wf-1`) was approved by <@U0BOB45678>."]


def test_other_endings_are_one_plain_message() -> None:
    cases = [
        RunOutcome("wf-1", "draft", RunStatus.CANCELLED, decided_by="U0BOB45678"),
        RunOutcome("wf-1", "draft", RunStatus.CANCELLED, detail="shutdown <now>"),
        RunOutcome("wf-1", "draft", RunStatus.EXPIRED),
        RunOutcome("wf-1", "draft", RunStatus.FAILED, detail="model said <!channel>"),
    ]
    for outcome in cases:
        [text] = outcome_report(outcome)
        assert_plain(text)
    assert outcome_report(cases[2]) == [
        "⌛ Your *draft* (`wf-1`) expired: nobody decided before the deadline, so nothing was done (it was not"
        " refused). An approver can still click *Ask again* on its card for a while."
    ]


def test_the_whole_approved_result_arrives_in_numbered_parts() -> None:
    result = "".join(f"Paragraph {i}: the approved text & its <details>, all of it.\n" for i in range(300))
    messages = outcome_report(approved(result))
    assert all(slack_len(message) <= REPORT_LIMIT for message in messages)
    first, *parts = messages
    assert first == (
        f"✅ Your *draft* (`wf-1`) was approved by <@U0BOB45678>. The approved result follows in {len(parts)} messages."
    )
    assert len(parts) > 1
    bodies = []
    for number, part in enumerate(parts, start=1):
        header, _, body = part.partition("\n")
        assert header == f"Approved result (part {number} of {len(parts)}):"
        assert body.startswith(FENCE) and body.endswith(FENCE)
        assert body.count(FENCE) == 2
        bodies.append(unescape_mrkdwn(body).removeprefix("```\n").removesuffix("```"))
    assert "".join(bodies) == result  # nothing lost, nothing cut mid-word


def test_a_result_with_its_own_code_blocks_keeps_them_whole() -> None:
    code = "".join(f"print({i})  # <{i}>\n" for i in range(400))
    result = f"Run this:\n```python\n{code}```\nThen deploy."
    first, *parts = outcome_report(approved(result))
    assert all(slack_len(message) <= REPORT_LIMIT for message in [first, *parts])
    for number, part in enumerate(parts, start=1):
        body = part.partition("\n")[2]
        assert body.count(FENCE) % 2 == 0
        if number > 1:
            assert body.startswith("```python\n")
    assert parts[-1].endswith("```\nThen deploy.")


def test_a_word_cut_in_two_is_announced() -> None:
    result = "start " + "x" * 8000
    first, *parts = outcome_report(approved(result))
    assert any(", continuing a word cut at the end of part" in part.partition("\n")[0] for part in parts[1:])
    assert all(slack_len(message) <= REPORT_LIMIT for message in [first, *parts])


def test_a_huge_result_says_what_was_not_sent() -> None:
    result = "word " * 200_000
    first, *parts = outcome_report(approved(result))
    assert len(parts) == MAX_RESULT_PARTS
    assert "too long to send in full" in first
    assert re.search(r"about [\d,]+ more characters are not sent", first)
    assert all(slack_len(message) <= REPORT_LIMIT for message in [first, *parts])


def test_a_second_revise_click_is_pointed_at_the_thread() -> None:
    text = revise_already_asked_text("U0BOB45678")
    assert text.startswith("<@U0BOB45678> already asked for changes on this request: reply in its thread")
    assert_plain(revise_already_asked_text("<!channel>"))


def test_every_report_leaves_room_for_a_callers_note() -> None:
    note = "\nThe full report is in a DM from me."
    for size in (2_800, 2_900, 3_000, 9_000):
        for message in outcome_report(approved("w " * (size // 2))):
            assert slack_len(message + note) <= REPORT_LIMIT


def test_a_refusal_by_the_policy_escapes_what_was_refused_once() -> None:
    text = denied_text("ops", "wf-1", approval(State.CANCELLED, prompt=f"Run {EVIL}"), "no <b>&</b>")

    assert "Ping &lt;!channel&gt; &amp; &lt;@U0EVIL1234&gt;" in text  # shown as typed, pinging nobody
    assert "&amp;amp;" not in text and "&amp;lt;" not in text
    assert "`no &lt;b&gt;&amp;&lt;/b&gt;`" in text
