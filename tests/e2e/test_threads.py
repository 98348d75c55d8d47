"""A card's thread is for discussion; a reply is feedback only after a Revise click or when it mentions the bot."""

from __future__ import annotations

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import DRAFT_1, People
from tests.e2e.test_approval_flow import action_ids, decided_card, post_prompt, report_to, start_task, texts


async def ask_for_changes(slack: SlackEmulator, people: People, ts: str, who: str) -> None:
    """Click Revise and wait for the bot's one request in the thread."""
    await slack.click(who, people.approvals, ts, blocks.ACTION_REVISE)
    await slack.wait_for(lambda: [m for m in slack.thread(people.approvals, ts) if "asked for changes" in m.text], 10)


async def test_discussion_in_the_thread_is_not_a_revision(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)

    chat = await slack.user_message(people.alice, people.approvals, f"<@{people.bob}> thoughts?", thread_ts=card.ts)
    answer = await slack.user_message(people.bob, people.approvals, "Looks fine to me", thread_ts=card.ts)
    for message in (chat, answer):  # both delivered and acked: the bot heard them and let them be
        envelope = slack.event_envelope(message.ts)
        assert envelope is not None
        await slack.wait_ack(envelope, timeout=3)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    report = await report_to(slack, people.alice, "approved")
    assert DRAFT_1.splitlines()[0] in report.text
    assert "Approved by" in texts((await decided_card(slack, people, card.ts)).blocks)
    assert [m for m in slack.ephemerals(people.alice) + slack.ephemerals(people.bob) if "agent" in m.text] == []


async def test_a_reply_mentioning_the_bot_is_feedback_in_readable_words(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    mark = slack.mark()

    text = f"<@{slack.bot_user_id}> ask @alice and link [the spec](https://example.com/spec) & more"
    await slack.user_message(people.bob, people.approvals, text, thread_ts=card.ts)  # at once: a fast replier
    await post_prompt(slack, people, mark)

    shown = texts((await decided_card(slack, people, card.ts)).blocks)
    assert "ask @alice and link the spec (https://example.com/spec) &amp; more" in shown
    assert f"<@{slack.bot_user_id}>" not in shown.split("Revision requested")[-1]


async def test_revise_asks_once_and_the_next_approver_reply_is_the_feedback(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    card = await start_task(slack, people)

    await ask_for_changes(slack, people, card.ts, people.bob)
    await slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_REVISE)  # a second Revise click
    told = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.alice) if "already" in m.text), None), timeout=10
    )
    mark = slack.mark()
    await slack.user_message(people.mallory, people.approvals, "make it longer", thread_ts=card.ts)
    await slack.user_message(people.mallory, people.approvals, "much longer!", thread_ts=card.ts)
    await slack.user_message(people.alice, people.approvals, "Say which day", thread_ts=card.ts)
    await post_prompt(slack, people, mark)

    requests = [m for m in slack.thread(people.approvals, card.ts) if "asked for changes" in m.text]
    assert len(requests) == 1
    assert f"<@{people.bob}>" in told.text and "already" in told.text
    refusals = [m for m in slack.ephemerals(people.mallory) if "Only approvers' replies" in m.text]
    assert len(refusals) == 1  # told once per card, not once per reply
    revised = texts((await decided_card(slack, people, card.ts)).blocks)
    assert "Say which day" in revised and "longer" not in revised


async def test_a_reply_with_a_file_counts(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)
    await ask_for_changes(slack, people, card.ts, people.bob)
    mark = slack.mark()

    await slack.user_message(people.bob, people.approvals, "", thread_ts=card.ts, files=[{"name": "style-guide.pdf"}])
    new_card = await post_prompt(slack, people, mark)

    assert "style-guide.pdf" in texts((await decided_card(slack, people, card.ts)).blocks)
    assert action_ids(slack.message(people.approvals, new_card.response["ts"]).blocks) != []
