"""Expiry is not a denial: an expired draft says so to the requester and on its card, which offers "Ask again";
asking again resumes the run at that step as a new attempt with a new deadline, on the same card."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.approvals.audit import read_audit
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import DRAFT_1, People
from tests.e2e.test_approval_flow import action_ids, report_to, start_task, texts


async def card_with(slack: SlackEmulator, people: People, ts: str, action_id: str):
    return await slack.wait_for(
        lambda: (m := slack.message(people.approvals, ts)) is not None and action_id in action_ids(m.blocks) and m,
        timeout=15,
    )


async def test_an_expired_draft_can_be_asked_again_on_the_same_card(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot(APPROVAL_TIMEOUT="3")
    card = await start_task(slack, people)

    expired = await card_with(slack, people, card.ts, blocks.ACTION_ASK_AGAIN)
    report = await report_to(slack, people.alice, "expired")
    assert "nothing was done (it was not refused)" in report.text and "Ask again" in report.text
    assert "an expiry is not a refusal" in texts(expired.blocks)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_ASK_AGAIN)
    asked = await card_with(slack, people, card.ts, blocks.ACTION_APPROVE)  # the same card asks again
    assert DRAFT_1 in texts(asked.blocks) or "We launch the new billing page on Monday." in texts(asked.blocks)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    approved = await report_to(slack, people.alice, "approved")
    assert "billing page" in approved.text
    assert [m.ts for m in slack.messages(people.approvals) if m.blocks] == [card.ts]  # no second card
    told = [m.text for m in slack.ephemerals(people.bob)]
    assert any(text.startswith("Asked again") for text in told)
    redis = aioredis.from_url(redis_url)
    try:
        events = [(e.approval_id.rsplit(".", 1)[1], e.event) for e in await read_audit(redis)]
    finally:
        await redis.aclose()
    assert events == [("1", "created"), ("1", "expired"), ("1", "asked_again"), ("1-1", "created"), ("1-1", "approved")]


async def test_two_approvers_asking_again_at_once_resume_the_run_once(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot(APPROVAL_TIMEOUT="3")
    card = await start_task(slack, people)
    await card_with(slack, people, card.ts, blocks.ACTION_ASK_AGAIN)

    clicks = [
        slack.build_click(who, people.approvals, card.ts, blocks.ACTION_ASK_AGAIN) for who in (people.alice, people.bob)
    ]
    for click in clicks:  # both saw the expired card and clicked before it changed
        await slack.send_interactive(click)
    answers = await slack.wait_for(
        lambda: (
            (
                found := [
                    m.text
                    for who in (people.alice, people.bob)
                    for m in slack.ephemerals(who)
                    if m.text.startswith(("Asked again", "Someone asked again"))
                ]
            )
            and len(found) == 2
            and found
        ),
        timeout=10,
    )

    assert sorted(text.split(":")[0] for text in answers) == ["Asked again", "Someone asked again already"]
    await card_with(slack, people, card.ts, blocks.ACTION_APPROVE)
    assert [m.ts for m in slack.messages(people.approvals) if m.blocks] == [card.ts]
