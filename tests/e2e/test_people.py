"""Who may decide, and what people type: user groups, Enterprise Grid IDs, an empty APPROVERS, subjects with colons."""

from __future__ import annotations

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import decided_card, post_prompt, report_to, start_task, texts


async def test_a_user_group_in_approvers_lets_its_members_decide(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    ops = slack.add_usergroup("ops", members=[people.bob])
    await start_bot(APPROVERS=f"{people.alice},{ops}")
    card = await start_task(slack, people)

    assert f"<!subteam^{ops}>" in texts(card.blocks)  # the group is named (and pinged) on the card
    await slack.click(people.mallory, people.approvals, card.ts, blocks.ACTION_APPROVE)
    refused = await slack.wait_for(lambda: next(iter(slack.ephemerals(people.mallory)), None), timeout=10)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    assert "not on the approvers list" in refused.text
    assert f"Approved by <@{people.bob}>" in texts((await decided_card(slack, people, card.ts)).blocks)


async def test_enterprise_grid_w_ids_approve_like_u_ids(slack: SlackEmulator, people: People, start_bot) -> None:
    carol = slack.add_user("carol", user_id="W0CAROL001")
    slack.join(people.approvals, carol)
    await start_bot(APPROVERS=f"{people.alice},{carol}")
    card = await start_task(slack, people)

    await slack.click(carol, people.approvals, card.ts, blocks.ACTION_APPROVE)

    assert f"Approved by <@{carol}>" in texts((await decided_card(slack, people, card.ts)).blocks)
    assert f"<@{carol}>" in (await report_to(slack, people.alice, "approved")).text


async def test_with_no_approvers_the_card_says_anyone_may_decide(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bot = await start_bot(APPROVERS="")
    card = await start_task(slack, people)

    assert "anyone in this channel" in texts(card.blocks).lower()
    assert "APPROVERS is empty" in bot.output()
    await slack.click(people.mallory, people.approvals, card.ts, blocks.ACTION_APPROVE)
    assert f"Approved by <@{people.mallory}>" in texts((await decided_card(slack, people, card.ts)).blocks)


async def test_a_subject_with_a_colon_is_a_task_not_a_workflow(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    mark = slack.mark()

    command = await slack.slash_command(people.alice, "Re: invoice for ACME", channel_id=people.general)
    ack = await slack.wait_ack(command, timeout=3)
    prompt = await post_prompt(slack, people, mark)

    assert "Started *draft*" in ack["payload"]["text"] and "Re: invoice for ACME" in ack["payload"]["text"]
    assert "draft" in texts(slack.message(people.approvals, prompt.response["ts"]).blocks)
