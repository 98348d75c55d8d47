"""Runs survive their replica: kill -9, SIGTERM and a pause past the lease, with real processes and Redis.

The model is the conversation-driven scripted endpoint behind AutoGen's OpenAI client, so a resumed run that
asks for its next answer gets the one its conversation calls for, whichever process asks.
"""

from __future__ import annotations

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.botprocess import BotProcess
from tests.conditions import until
from tests.e2e.conftest import DRAFT_1, DRAFT_2, People
from tests.e2e.test_approval_flow import post_prompt, report_to, start_task, texts

LEASE = "2"
"""RUN_LEASE for these tests: a dead replica's runs are taken over within about this long."""


async def holder(bots: list[BotProcess], workflow_id: str) -> BotProcess:
    """The bot whose worker took the run first."""
    await until(lambda: any(f"took run {workflow_id} (fence 1" in b.output() for b in bots), 10)
    return next(b for b in bots if f"took run {workflow_id} (fence 1" in b.output())


async def logged(bot: BotProcess, text: str, timeout: float = 15) -> None:
    """Until the bot's log says ``text`` (polled: a log line is no event the emulator hears of)."""
    await until(lambda: text in bot.output(), timeout)


def workflow_of(card_blocks: list[dict]) -> str:
    value = next(e["value"] for b in card_blocks if b["type"] == "actions" for e in b["elements"] if e.get("value"))
    return str(value).rsplit(".", 1)[0]


async def test_kill_9_of_the_only_replica_between_card_and_click(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    old = await start_bot(RUN_LEASE=LEASE)
    card = await start_task(slack, people)
    await old.kill()
    await slack.wait_for(lambda: not slack.connections or None, timeout=15)

    new = await start_bot(RUN_LEASE=LEASE, connections=1)
    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_REVISE)
    await slack.wait_for(lambda: [m for m in slack.thread(people.approvals, card.ts) if "asked for" in m.text], 10)
    await slack.user_message(people.bob, people.approvals, "Mention #billing", thread_ts=card.ts)
    revised = await post_prompt(slack, people, mark)
    second = slack.message(people.approvals, revised.response["ts"])
    assert second is not None and "Questions to #billing" in texts(second.blocks)  # the resumed run's next draft
    await slack.click(people.alice, people.approvals, second.ts, blocks.ACTION_APPROVE)

    report = await report_to(slack, people.alice, "approved")
    assert DRAFT_2.splitlines()[-1] in report.text
    assert f"took run {workflow_of(card.blocks)}" in new.output() and "resuming" in new.output()
    cards = [m for m in slack.messages(people.approvals) if m.blocks]
    assert [m.ts for m in cards] == [card.ts, second.ts]  # the first card was not posted again


async def test_kill_9_of_one_of_two_replicas_resumes_its_run_on_the_other(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bots = [await start_bot(RUN_LEASE=LEASE), await start_bot(RUN_LEASE=LEASE)]
    card = await start_task(slack, people)
    running = await holder(bots, workflow_of(card.blocks))
    other = next(b for b in bots if b is not running)

    await running.kill()
    await logged(other, f"took run {workflow_of(card.blocks)} (fence 2, resuming", 15)
    await slack.wait_for(lambda: len(slack.connections) == 1 or None, timeout=15)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    report = await report_to(slack, people.alice, "approved")
    assert DRAFT_1.splitlines()[0] in report.text


async def test_a_decision_made_while_the_runs_worker_is_dead_is_picked_up_when_the_run_resumes(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bots = [await start_bot(RUN_LEASE="5"), await start_bot(RUN_LEASE="5")]  # time to click while it is dead
    card = await start_task(slack, people)
    workflow_id = workflow_of(card.blocks)
    running = await holder(bots, workflow_id)
    other = next(b for b in bots if b is not running)

    await running.kill()
    await slack.wait_for(lambda: len(slack.connections) == 1 or None, timeout=15)
    assert f"took run {workflow_id} (fence 2" not in other.output()  # its lease has not lapsed yet
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)  # recorded by the live replica

    report = await report_to(slack, people.alice, "approved")  # the resumed run reads the decision at once
    assert DRAFT_1.splitlines()[0] in report.text and f"took run {workflow_id} (fence 2, resuming" in other.output()
    assert [m.ts for m in slack.messages(people.approvals) if m.blocks] == [card.ts]


async def test_sigterm_gives_the_run_to_the_other_replica_at_once(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bots = [await start_bot(RUN_LEASE="30"), await start_bot(RUN_LEASE="30")]  # a lease far longer than the test
    card = await start_task(slack, people)
    running = await holder(bots, workflow_of(card.blocks))
    other = next(b for b in bots if b is not running)

    assert await running.stop() == 0
    await logged(other, f"took run {workflow_of(card.blocks)} (fence 2, resuming", 10)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    assert f"<@{people.bob}>" in (await report_to(slack, people.alice, "approved")).text


async def test_a_replica_paused_past_its_lease_does_nothing_for_the_run_it_lost(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bots = [await start_bot(RUN_LEASE=LEASE), await start_bot(RUN_LEASE=LEASE)]
    card = await start_task(slack, people)
    workflow_id = workflow_of(card.blocks)
    paused = await holder(bots, workflow_id)
    other = next(b for b in bots if b is not paused)

    paused.pause()
    try:
        await logged(other, f"took run {workflow_id} (fence 2, resuming", 15)
    finally:
        paused.resume()
    await logged(paused, f"lost the lease of run {workflow_id}", 15)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE, connection=slack.connections[-1])

    await report_to(slack, people.alice, "approved")
    reports = [m for m in slack.ephemerals(people.alice) if "Your" in m.text and "approved" in m.text]
    cards = [m for m in slack.messages(people.approvals) if m.blocks]
    assert len(reports) == 1 and [m.ts for m in cards] == [card.ts]


async def test_redis_restarted_under_twenty_waiting_runs_loses_none(
    slack: SlackEmulator, people: People, start_bot, make_redis_server
) -> None:
    server = make_redis_server(appendonly=True, appendfsync="everysec")
    await start_bot(REDIS_URL=server.url, answers=["Deploy the billing page?"])
    commands = [
        await slack.slash_command(people.alice, f"Release train {n}", channel_id=people.general) for n in range(20)
    ]
    for command in commands:
        await slack.wait_ack(command, timeout=3)
    cards = await slack.wait_for(
        lambda: (found := [m for m in slack.messages(people.approvals) if m.blocks]) and len(found) >= 20 and found,
        timeout=60,
    )

    server.restart()  # a clean restart from the append-only file, with 20 runs waiting on their cards

    for card in cards:
        await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await slack.wait_for(
        lambda: len([m for m in slack.ephemerals(people.alice) if "Your" in m.text and "approved" in m.text]) >= 20,
        timeout=60,
    )
    reports = [m for m in slack.ephemerals(people.alice) if "Your" in m.text and "approved" in m.text]
    assert len(reports) == 20 and len({m.text for m in reports}) == 20  # every run, once
    assert len([m for m in slack.messages(people.approvals) if m.blocks]) == 20  # no card asked twice
