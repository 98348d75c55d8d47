"""A card shows every decision, whoever made it and whatever it lost: the bot's reconciler, end to end."""

from __future__ import annotations

from bot.approvals import ApprovalStore, Outcome
from bot.approvals.connection import connect
from bot.sandbox import SlackEmulator
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import action_ids, report_to, start_task, texts

RECONCILE_S = 20
"""The reconciler's grace (5 s) plus a maintenance round (2 s) and a lease, with room for a slow machine."""


async def reconciled(slack: SlackEmulator, people: People, ts: str):
    """The card once its buttons are gone, given the time the reconciler may take."""
    return await slack.wait_for(
        lambda: (m := slack.message(people.approvals, ts)) is not None and not action_ids(m.blocks) and m, RECONCILE_S
    )


async def test_a_decision_whose_process_died_before_updating_the_card_reaches_the_card(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    approval_id = next(
        e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"] if e.get("value")
    ).partition("|")[0]  # a button carries the approval's id and the start of its digest

    redis = connect(redis_url)
    elsewhere = ApprovalStore(redis)  # another replica that records the click, then dies before chat.update
    try:
        await elsewhere.decide(approval_id, Outcome.APPROVED, people.bob)
    finally:
        await redis.aclose()

    updated = await reconciled(slack, people, card.ts)
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)
    assert f"<@{people.bob}>" in (await report_to(slack, people.alice, "approved")).text


async def test_a_card_update_slack_refused_is_made_again(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)
    slack.fail_next("chat.update", status=500, error="internal_error", times=3)  # slack-sdk's own retries fail too

    await slack.click(people.bob, people.approvals, card.ts, "approval_approve")

    updated = await reconciled(slack, people, card.ts)
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)
    assert [c.status for c in slack.calls_to("chat.update")][:3] == [500, 500, 500]
