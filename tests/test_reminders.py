"""Reminders and escalations against a real redis-server: scheduled once per card, claimed by exactly one
replica, dropped at the decision, kept across a restart, audited in the hash chain."""

from __future__ import annotations

import asyncio

from bot.approvals import ApprovalStore, Outcome
from bot.approvals.audit import read_audit
from bot.approvals.connection import connect
from bot.approvals.reminders import MAX_ATTEMPTS, Claim, Reminders
from bot.audit_verify import INTACT, verify_audit
from tests.conditions import until
from tests.engine import ask, close_store, open_store, redis_now_ms

CHANNEL = "C0APPROVAL"
DELAY_S = 0.3


async def posted(store: ApprovalStore, workflow_id: str, step: int = 0, timeout_s: float = 60) -> str:
    """An approval whose card is recorded (what the prompter does before scheduling)."""
    approval = await ask(store, workflow_id, step, timeout_s)
    await store.attach_message(approval.id, CHANNEL, f"1714000000.{step:06d}")
    return approval.id


async def claimed(reminders: Reminders, timeout: float = 5.0) -> list[Claim]:
    """Claims from the first round that finds any due."""
    found: list[Claim] = []

    async def some() -> bool:
        found.extend(await reminders.claim_due())
        return bool(found)

    await until(some, timeout)
    return found


async def test_a_card_is_scheduled_once_with_both_kinds_due_after_their_delays(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=30, escalate_after_s=90)
    approval_id = await posted(store, "wf-once", timeout_s=600)
    before = await redis_now_ms(store)

    assert await reminders.schedule([approval_id]) == 2
    assert await reminders.schedule([approval_id]) == 0  # the card posted again after a restart

    due = dict(await reminders.entries())
    assert set(due) == {f"remind:{approval_id}", f"escalate:{approval_id}"}
    assert 0 <= due[f"remind:{approval_id}"] - before - 30_000 < 1000
    assert 0 <= due[f"escalate:{approval_id}"] - before - 90_000 < 1000
    assert await reminders.claim_due() == []  # nothing is due yet


async def test_nothing_is_scheduled_that_the_deadline_would_come_before(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=30, escalate_after_s=90)
    approval_id = await posted(store, "wf-short", timeout_s=60)

    assert await reminders.schedule([approval_id]) == 1
    assert [member for member, _ in await reminders.entries()] == [f"remind:{approval_id}"]


async def test_each_due_entry_is_claimed_by_exactly_one_of_two_replicas(redis_url: str) -> None:
    one, two = await open_store(redis_url), await open_store(redis_url)
    try:
        first = Reminders(one.redis, remind_after_s=DELAY_S, escalate_after_s=DELAY_S * 2)
        second = Reminders(two.redis, remind_after_s=DELAY_S, escalate_after_s=DELAY_S * 2)
        ids = [await posted(one, f"wf-race-{n}") for n in range(20)]
        for approval_id in ids:
            await first.schedule([approval_id])
        got: list[Claim] = []

        async def poll(reminders: Reminders) -> None:
            while len(got) < 2 * len(ids):
                got.extend(await reminders.claim_due())
                await asyncio.sleep(0.01)

        async with asyncio.timeout(10):
            await asyncio.gather(poll(first), poll(second), poll(first), poll(second))
        members = [claim.member for claim in got]
        assert sorted(members) == sorted(f"{kind}:{i}" for i in ids for kind in ("remind", "escalate"))
        assert all(claim.attempt == 1 and claim.first.id in claim.member for claim in got)
    finally:
        await close_store(one)
        await close_store(two)


async def test_done_removes_the_entry_and_audits_it_in_the_chain(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=DELAY_S)
    approval_id = await posted(store, "wf-audit")
    await reminders.schedule([approval_id])
    [claim] = await claimed(reminders)

    assert await reminders.done(claim, sent=True, detail="mentioned <@U0BOB>")
    assert not await reminders.done(claim, sent=True)  # a second end (another replica, a re-send) audits nothing

    assert await reminders.entries() == []
    events = [(e.approval_id, e.event, e.feedback) for e in await read_audit(store.redis)]
    assert events == [(approval_id, "created", ""), (approval_id, "reminded", "mentioned <@U0BOB>")]
    assert (await verify_audit(store.redis)).exit_code == INTACT


async def test_a_decision_drops_the_cards_entries(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=DELAY_S, escalate_after_s=30)
    store.on_transition(reminders.cancel)
    approval_id = await posted(store, "wf-decided")
    await reminders.schedule([approval_id])

    await store.decide(approval_id, Outcome.APPROVED, "U0BOB12345")

    assert await reminders.entries() == []


async def test_a_card_decided_elsewhere_is_dropped_when_due_not_sent(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=DELAY_S)  # no cancel listener: another replica decided
    approval_id = await posted(store, "wf-elsewhere")
    await reminders.schedule([approval_id])
    await store.decide(approval_id, Outcome.CANCELLED, "U0BOB12345")
    [(_, due_ms)] = await reminders.entries()

    await until(lambda: redis_now_ms_after(store, due_ms), 5)
    assert await reminders.claim_due() == []
    assert await reminders.entries() == []


async def redis_now_ms_after(store: ApprovalStore, due_ms: int) -> bool:
    return await redis_now_ms(store) > due_ms


async def test_scheduled_reminders_survive_a_restart(redis_url: str) -> None:
    before = await open_store(redis_url)
    approval_id = await posted(before, "wf-restart")
    await Reminders(before.redis, remind_after_s=DELAY_S).schedule([approval_id])
    await close_store(before)  # the process is gone: nothing of the schedule was in its memory

    after = await open_store(redis_url)
    try:
        [claim] = await claimed(Reminders(after.redis, remind_after_s=DELAY_S))
        assert claim.kind == "remind" and claim.first.id == approval_id and claim.first.pending
    finally:
        await close_store(after)


async def test_a_claim_never_ended_is_sent_again_after_its_lease_then_given_up(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=0.05, lease_s=0.05)
    approval_id = await posted(store, "wf-dies")
    await reminders.schedule([approval_id])

    attempts = []
    for _ in range(MAX_ATTEMPTS):  # each claimer dies before done
        [claim] = await claimed(reminders)
        attempts.append(claim.attempt)
    assert attempts == list(range(1, MAX_ATTEMPTS + 1))

    await until(lambda: _gone(reminders), 5)
    assert [e.event for e in await read_audit(store.redis)] == ["created", "reminder_failed"]


async def _gone(reminders: Reminders) -> bool:
    await reminders.claim_due()
    return await reminders.entries() == []


async def test_a_card_of_several_calls_gets_one_entry_for_its_pending_approvals(store: ApprovalStore) -> None:
    reminders = Reminders(store.redis, remind_after_s=DELAY_S)
    ids = [await posted(store, "wf-calls", step) for step in range(3)]
    assert await reminders.schedule(ids) == 1
    await store.decide(ids[0], Outcome.APPROVED, "U0BOB12345")
    store.on_transition(reminders.cancel)
    await store.decide(ids[1], Outcome.APPROVED, "U0BOB12345")
    assert len(await reminders.entries()) == 1  # one call still waits

    [claim] = await claimed(reminders)
    assert [a.id for a in claim.approvals] == [ids[2]] and claim.card_ids == ids
    await reminders.done(claim, sent=True)
    audited = [(e.approval_id, e.event) for e in await read_audit(store.redis) if e.event == "reminded"]
    assert audited == [(ids[2], "reminded")]


async def test_separate_connections_see_one_schedule(redis_url: str) -> None:
    """The schedule lives in Redis: a client on another pool finds what this one scheduled."""
    store = await open_store(redis_url)
    other = connect(redis_url)
    try:
        approval_id = await posted(store, "wf-pools")
        await Reminders(store.redis, remind_after_s=30).schedule([approval_id])
        assert [m for m, _ in await Reminders(other, remind_after_s=30).entries()] == [f"remind:{approval_id}"]
    finally:
        await other.aclose()
        await close_store(store)
