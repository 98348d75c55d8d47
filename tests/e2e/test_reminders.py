"""Reminders and escalation with the real bot: a card still pending after REMIND_AFTER gets one reminder in its
thread mentioning its approvers; after ESCALATE_AFTER it goes once to ESCALATE_TO (a channel, a person by DM, a
user group in the approvals channel) with a link to the card. Once with two replicas, once across a kill -9, never
for a card decided before; audited, and the audit still verifies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from bot.approvals.audit import read_audit
from bot.approvals.reminders import Reminders
from bot.sandbox import SlackEmulator
from bot.sandbox.entities import Message
from bot.slack import blocks
from tests.conditions import until
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import decided_card, start_task
from tests.e2e.test_shutdown import terminate
from tests.test_audit_cli import audit

FAST = {"REMIND_AFTER": "1", "ESCALATE_AFTER": "2"}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def reminders_in(slack: SlackEmulator, people: People, ts: str) -> list[Message]:
    return [m for m in slack.thread(people.approvals, ts) if "Reminder" in m.text]


def escalations_in(slack: SlackEmulator, channel: str) -> list[Message]:
    return [m for m in slack.messages(channel) if "Escalation" in m.text]


async def nothing_scheduled(redis: aioredis.Redis) -> bool:
    """No reminder or escalation is left to send (so none can come later)."""
    return await Reminders(redis).entries() == []


async def scheduled(redis: aioredis.Redis, count: int) -> None:
    """Until the card's entries are in Redis (the prompter schedules them right after recording the card)."""

    async def there() -> bool:
        return len(await Reminders(redis).entries()) == count

    await until(there, 5)


async def settled(redis: aioredis.Redis, seen: Callable[[], object], timeout: float = 20) -> None:
    """Until ``seen()`` holds and nothing is left to send."""
    await until(lambda: bool(seen()), timeout)
    await until(lambda: nothing_scheduled(redis), timeout)


async def audited(redis: aioredis.Redis) -> list[tuple[str, str]]:
    return [(e.event, e.feedback) for e in await read_audit(redis) if e.event in ("reminded", "escalated")]


async def test_a_pending_card_is_reminded_in_its_thread_then_escalated_to_a_channel(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis, redis_url: str
) -> None:
    oncall = slack.add_channel("oncall", members=[people.mallory, slack.bot_user_id])
    await start_bot(**FAST, ESCALATE_TO=oncall)
    card = await start_task(slack, people)

    await settled(redis, lambda: escalations_in(slack, oncall))

    [reminder] = reminders_in(slack, people, card.ts)
    assert f"<@{people.alice}>" in reminder.text and f"<@{people.bob}>" in reminder.text
    assert "still waiting for a decision" in reminder.text and "It expires <!date^" in reminder.text
    [escalation] = escalations_in(slack, oncall)
    [permalink] = [c.response["permalink"] for c in slack.calls_to("chat.getPermalink") if c.ok][-1:]
    assert f"<{permalink}|Open the card>" in escalation.text and f"<#{people.approvals}>" in escalation.text
    assert escalation.ts > reminder.ts
    assert await audited(redis) == [
        ("reminded", f"mentioned {people.alice}, {people.bob}"),
        ("escalated", f"to {oncall}"),
    ]
    code, out, _ = await audit(redis_url)
    lines = out.splitlines()
    assert code == 0 and [line.split("  ")[2].split(" after ")[0] for line in lines] == [
        "created by " + people.alice + ", rule default",
        "reminded",
        "escalated",
    ]
    assert lines[1].endswith(f": mentioned {people.alice}, {people.bob}") and lines[2].endswith(f": to {oncall}")
    code, out, _ = await audit(redis_url, "--verify")
    assert code == 0, out


async def test_an_escalation_to_a_person_is_a_dm_with_the_link(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    boss = slack.add_user("boss")
    await start_bot(**FAST, ESCALATE_TO=boss)
    card = await start_task(slack, people)

    await settled(redis, lambda: (dm := slack.dm_with(boss)) is not None and escalations_in(slack, dm))

    [escalation] = escalations_in(slack, slack.dm_with(boss) or "")
    assert "/archives/" in escalation.text and card.ts.replace(".", "") in escalation.text
    assert len(reminders_in(slack, people, card.ts)) == 1
    assert [c.params.get("users") for c in slack.calls_to("conversations.open") if c.ok] == [boss]


async def test_a_group_of_approvers_is_reminded_and_a_group_is_escalated_to_in_the_approvals_channel(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    reviewers = slack.add_usergroup("reviewers", members=[people.alice, people.bob])
    leads = slack.add_usergroup("leads", members=[people.mallory])
    await start_bot(**FAST, APPROVERS=reviewers, ESCALATE_TO=leads)
    card = await start_task(slack, people)

    await settled(redis, lambda: escalations_in(slack, people.approvals))

    [reminder] = reminders_in(slack, people, card.ts)
    assert f"<!subteam^{reviewers}>" in reminder.text and "<@" not in reminder.text.split("still waiting")[0]
    [escalation] = escalations_in(slack, people.approvals)
    assert escalation.text.startswith(f"🚨 Escalation: <!subteam^{leads}>: ") and not escalation.thread_ts
    assert "Open the card" in escalation.text


async def test_two_replicas_send_each_once(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    oncall = slack.add_channel("oncall", members=[slack.bot_user_id])
    await start_bot(**FAST, ESCALATE_TO=oncall)
    await start_bot(**FAST, ESCALATE_TO=oncall)
    card = await start_task(slack, people)

    await settled(redis, lambda: escalations_in(slack, oncall))

    assert len(reminders_in(slack, people, card.ts)) == 1
    assert len(escalations_in(slack, oncall)) == 1
    assert [event for event, _ in await audited(redis)] == ["reminded", "escalated"]


async def test_a_bot_killed_before_the_due_time_sends_them_once_after_its_restart(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    oncall = slack.add_channel("oncall", members=[slack.bot_user_id])
    settings = {"REMIND_AFTER": "3", "ESCALATE_AFTER": "4", "ESCALATE_TO": oncall, "RUN_LEASE": "1"}
    first = await start_bot(**settings)
    card = await start_task(slack, people)
    await scheduled(redis, 2)
    await first.kill()  # kill -9: nothing of the schedule was in its memory
    assert reminders_in(slack, people, card.ts) == []

    second = await start_bot(connections=1, **settings)
    await settled(redis, lambda: escalations_in(slack, oncall))
    await until(lambda: "re-attached" in second.output(), 20)  # the run was taken over: its card posted again

    assert len(reminders_in(slack, people, card.ts)) == 1
    assert len(escalations_in(slack, oncall)) == 1
    assert await nothing_scheduled(redis)


async def test_a_card_decided_before_the_due_time_gets_neither(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    oncall = slack.add_channel("oncall", members=[slack.bot_user_id])
    await start_bot(REMIND_AFTER="2", ESCALATE_AFTER="3", ESCALATE_TO=oncall)
    card = await start_task(slack, people)
    await scheduled(redis, 2)

    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await decided_card(slack, people, card.ts)
    await until(lambda: nothing_scheduled(redis), 5)  # dropped at the decision: nothing is left to send

    assert reminders_in(slack, people, card.ts) == [] and escalations_in(slack, oncall) == []
    assert await audited(redis) == []


async def test_shutdown_stops_a_reminder_stuck_on_a_rate_limit_and_keeps_it_claimed(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    bot = await start_bot(REMIND_AFTER="1")
    card = await start_task(slack, people)
    await scheduled(redis, 1)
    slack.fail_next("chat.postMessage", status=429, retry_after=30)  # the reminder waits it out

    await until(
        lambda: any(
            c.status == 429 and c.params.get("thread_ts") == card.ts for c in slack.calls_to("chat.postMessage")
        ),
        10,
    )
    status, elapsed = await terminate(bot)

    assert status == 0 and elapsed < 7.5, bot.output()
    assert "leaving:" not in bot.output()
    assert reminders_in(slack, people, card.ts) == []
    [(member, _)] = await Reminders(redis).entries()  # still claimed: another replica sends it after the lease
    assert member.startswith("remind:")


async def test_an_escalation_slack_refuses_is_audited_as_failed_once(
    slack: SlackEmulator, people: People, start_bot, redis: aioredis.Redis
) -> None:
    elsewhere = slack.add_channel("elsewhere", members=[people.mallory])  # the bot was never invited
    bot = await start_bot(**FAST, ESCALATE_TO=elsewhere)
    card = await start_task(slack, people)

    await settled(redis, lambda: any(c.error == "not_in_channel" for c in slack.calls_to("chat.postMessage")))

    assert len(reminders_in(slack, people, card.ts)) == 1 and escalations_in(slack, elsewhere) == []
    failed = [(e.event, e.feedback) for e in await read_audit(redis) if e.event == "escalation_failed"]
    assert failed == [("escalation_failed", "Slack refused it: not_in_channel")]
    assert "Slack refused the escalation of approval" in bot.output()
    assert bot.process is not None and bot.process.returncode is None  # still running
