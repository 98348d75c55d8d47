"""The approval engine against a real redis-server: atomicity, wake-ups, timeouts, TTLs, audit."""

from __future__ import annotations

import asyncio
import hashlib
import sys

import pytest

from bot.approvals import (
    AlreadyDecided,
    Approval,
    ApprovalKey,
    ApprovalStore,
    Expired,
    Outcome,
    StaleVersion,
    State,
    StoreSettings,
    UnknownApproval,
    keys,
)
from bot.approvals.audit import read_audit
from bot.approvals.connection import connect
from tests.conditions import waiting
from tests.engine import ask, seconds_until


async def test_create_stores_a_pending_record_with_a_deadline(store: ApprovalStore) -> None:
    approval = await ask(store, timeout_s=30)

    assert approval.state is State.PENDING
    assert approval.id == "wf1.0"
    assert approval.deadline_ms - approval.created_ms == 30_000
    assert await store.get(approval.id) == approval


async def test_create_is_idempotent_by_workflow_and_step(store: ApprovalStore) -> None:
    first = await ask(store)
    again = await ask(store)
    other_step = await ask(store, step=1)

    assert again == first
    assert other_step.id != first.id


async def test_hundred_concurrent_decisions_record_exactly_one(store: ApprovalStore) -> None:
    approval = await ask(store)

    results = await asyncio.gather(
        *(store.decide(approval.id, Outcome.APPROVED, f"U{n:09d}") for n in range(100)),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, Approval)]
    losers = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(winners) == 1 and len(losers) == 99
    assert {loser.approval.decider for loser in losers} == {winners[0].decider}
    assert (await store.get(approval.id)).decider == winners[0].decider  # type: ignore[union-attr]
    decisions = [e for e in await read_audit(store.redis) if e.event == "approved"]
    assert len(decisions) == 1


async def test_decision_from_another_process_wakes_the_waiter(store: ApprovalStore, redis_url: str) -> None:
    approval = await ask(store)
    waiter = asyncio.create_task(store.wait(approval.id))
    code = (
        "import asyncio, sys\n"
        "from bot.approvals import ApprovalStore, Outcome\n"
        "from bot.approvals.connection import connect\n"
        "async def main():\n"
        "    redis = connect(sys.argv[1])\n"
        "    await ApprovalStore(redis).decide(sys.argv[2], Outcome.REVISED, 'U0BOB45678', 'shorter please')\n"
        "    await redis.aclose()\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, redis_url, approval.id)
    assert await proc.wait() == 0

    decided = await asyncio.wait_for(waiter, 10)
    assert (decided.state, decided.decider, decided.feedback) == (State.REVISED, "U0BOB45678", "shorter please")


async def test_decision_made_before_the_wait_is_returned_at_once(store: ApprovalStore) -> None:
    approval = await ask(store)
    await store.decide(approval.id, Outcome.CANCELLED, "U0BOB45678")

    decided = await asyncio.wait_for(store.wait(approval.id), 2)

    assert decided.state is State.CANCELLED
    assert store.subscriber.waiting == 0


async def test_timeout_expires_the_approval_and_a_late_click_is_refused(store: ApprovalStore) -> None:
    approval = await ask(store, timeout_s=0.2)

    expired = await store.wait(approval.id)
    with pytest.raises(Expired) as late:
        await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123")

    assert expired.state is State.EXPIRED
    assert late.value.approval.state is State.EXPIRED
    assert await store.redis.zcard(keys.pending_key(keys.bucket(approval.id))) == 0


async def test_wait_with_a_shorter_timeout_expires_before_the_deadline(store: ApprovalStore) -> None:
    approval = await ask(store, timeout_s=3600)

    expired = await store.wait(approval.id, timeout=0.1)

    assert expired.state is State.EXPIRED
    assert expired.decided_ms < approval.deadline_ms


async def click_at(store: ApprovalStore, approval: Approval, offset_ms: int) -> Approval | AlreadyDecided:
    """Click ``offset_ms`` from the deadline, timed on Redis's clock (the one deadlines are kept in)."""
    await asyncio.sleep(await seconds_until(store, approval.deadline_ms + offset_ms))  # the timing is the subject
    try:
        return await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    except AlreadyDecided as refused:
        return refused


async def test_a_click_just_before_the_deadline_wins_and_one_just_after_is_refused(store: ApprovalStore) -> None:
    before, after = await ask(store, "race", 0, timeout_s=0.5), await ask(store, "race", 1, timeout_s=0.5)
    waits = asyncio.gather(store.wait(before.id), store.wait(after.id))

    early, late = await asyncio.gather(click_at(store, before, -100), click_at(store, after, +100))
    waited_before, waited_after = await asyncio.wait_for(waits, 5)

    assert isinstance(early, Approval) and (early.state, early.decider) == (State.APPROVED, "U0BOB45678")
    assert (waited_before.state, waited_before.decider) == (State.APPROVED, "U0BOB45678")
    assert isinstance(late, Expired) and late.approval.state is State.EXPIRED
    assert waited_after.state is State.EXPIRED
    audit = await read_audit(store.redis)
    assert [e.event for e in audit if e.approval_id == before.id] == ["created", "approved"]
    # the waiter expired it at the deadline; the click 100 ms later is refused and recorded with who clicked
    assert [(e.event, e.late_click_by) for e in audit if e.approval_id == after.id] == [
        ("created", ""),
        ("expired", ""),
        ("late_click", "U0BOB45678"),
    ]
    for tag in keys.all_buckets():
        assert await store.redis.zcard(keys.pending_key(tag)) == 0


async def test_a_late_click_that_expires_the_approval_itself_is_audited_with_the_clicker(store: ApprovalStore) -> None:
    approval = await ask(store, timeout_s=0.3)  # nobody waits: the click is the first to notice the deadline

    late = await click_at(store, approval, +100)

    assert isinstance(late, Expired)
    audit = [e for e in await read_audit(store.redis) if e.approval_id == approval.id]
    assert [(e.event, e.user, e.late_click_by) for e in audit] == [
        ("created", "U0ALICE123", ""),
        ("expired", "", "U0BOB45678"),
    ]


async def test_the_created_entry_keeps_the_prompt_as_shown_and_its_digest(store: ApprovalStore) -> None:
    prompt = "Send the release email?\n\n> Dear all, v2.0 ships today."
    approval = await store.create(
        ApprovalKey("wf-audit", 0), prompt=prompt, requester="U0ALICE123", workflow="draft", timeout_s=60
    )

    [created] = [e for e in await read_audit(store.redis) if e.approval_id == approval.id]

    assert (created.event, created.prompt) == ("created", prompt)
    assert created.prompt_sha256 == hashlib.sha256(prompt.encode()).hexdigest()


async def test_cancelled_wait_leaves_no_waiter_behind(store: ApprovalStore) -> None:
    approval = await ask(store)
    waiter = asyncio.create_task(store.wait(approval.id))
    await waiting(store, 1, 2)

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert store.subscriber.waiting == 0
    assert (await store.get(approval.id)).state is State.PENDING  # type: ignore[union-attr]


async def test_unknown_approval_is_refused(store: ApprovalStore) -> None:
    with pytest.raises(UnknownApproval):
        await store.decide("nope.0", Outcome.APPROVED, "U0ALICE123")
    with pytest.raises(UnknownApproval):
        await store.wait("nope.0")


async def test_sweeper_expires_orphans_once_across_replicas(store: ApprovalStore, redis_url: str) -> None:
    approval = await ask(store, timeout_s=0.05)
    reported: list[Approval] = []
    other_redis = connect(redis_url)
    other = ApprovalStore(other_redis)

    async def report(decided: Approval) -> None:
        reported.append(decided)

    store.on_transition(report)
    other.on_transition(report)
    await asyncio.sleep(await _until_deadline(store, approval))

    swept = await asyncio.gather(store.expire_due(), other.expire_due(), store.expire_due())

    assert sum(len(s) for s in swept) == 1
    assert [a.id for a in reported] == [approval.id]
    assert reported[0].state is State.EXPIRED
    await other_redis.aclose()


async def test_background_sweeper_expires_orphans(redis_url: str) -> None:
    redis = connect(redis_url)
    store = ApprovalStore(redis, StoreSettings(sweep_interval_s=0.05))
    expired = asyncio.get_running_loop().create_future()

    async def report(decided: Approval) -> None:
        expired.set_result(decided)

    store.on_transition(report)
    await store.start()
    approval = await ask(store, timeout_s=0.1)

    swept = await asyncio.wait_for(expired, 5)

    assert (swept.id, swept.state) == (approval.id, State.EXPIRED)
    await store.aclose()
    await redis.aclose()


async def test_records_expire_some_time_after_their_decision(redis_url: str) -> None:
    redis = connect(redis_url)
    store = ApprovalStore(redis, StoreSettings(retention_s=60))
    approval = await ask(store, timeout_s=3600)
    await store.attach_message(approval.id, "C0APPROVAL", "1714000000.000100")
    pending_ttl = await redis.pttl(keys.record_key(approval.id))

    await store.decide(approval.id, Outcome.APPROVED, "U0ALICE123")

    assert 3_600_000 < pending_ttl <= 3_660_000
    assert 0 < await redis.pttl(keys.record_key(approval.id)) <= 60_000
    assert 0 < await redis.pttl(keys.message_key("C0APPROVAL", "1714000000.000100")) <= 3_660_000
    await redis.aclose()


async def test_audit_records_every_create_and_decision(store: ApprovalStore) -> None:
    first = await ask(store, step=0)
    second = await ask(store, step=1)
    await store.decide(first.id, Outcome.REVISED, "U0BOB45678", "add a summary")
    await store.decide(second.id, Outcome.APPROVED, "U0ALICE123")

    entries = await read_audit(store.redis)

    # Buckets are separate streams, so only each approval's own entries have a strict order.
    assert [e.event for e in entries if e.approval_id == first.id] == ["created", "revised"]
    assert [e.event for e in entries if e.approval_id == second.id] == ["created", "approved"]
    assert len(entries) == 4
    revised = next(e for e in entries if e.event == "revised")
    assert (revised.user, revised.feedback, revised.workflow) == ("U0BOB45678", "add a summary", "draft")
    assert revised.waited_ms >= 0 and revised.at_ms >= first.created_ms


async def test_message_lookup_finds_the_approval(store: ApprovalStore) -> None:
    approval = await ask(store)
    await store.attach_message(approval.id, "C0APPROVAL", "1714000000.000100")

    found = await store.find_by_message("C0APPROVAL", "1714000000.000100")

    assert found is not None and (found.id, found.channel, found.ts) == (approval.id, "C0APPROVAL", "1714000000.000100")
    assert await store.find_by_message("C0APPROVAL", "1714000000.999999") is None


async def _until_deadline(store: ApprovalStore, approval: Approval) -> float:
    """Seconds until the deadline by Redis's clock (plus a millisecond, since the deadline itself still counts)."""
    now_s, now_us = await store.redis.time()
    return max(0.0, (approval.deadline_ms + 1 - (now_s * 1000 + now_us // 1000)) / 1000)


async def test_sweeper_drops_index_entries_whose_record_is_gone(store: ApprovalStore) -> None:
    gone = await ask(store, "gone", timeout_s=0.05)
    orphan = await ask(store, "orphan", timeout_s=0.05)
    await store.redis.delete(keys.record_key(gone.id))  # as if its TTL had run out
    await asyncio.sleep(await _until_deadline(store, orphan))

    swept = await store.expire_due()

    assert [a.id for a in swept] == [orphan.id]
    for tag in keys.all_buckets():
        assert await store.redis.zcard(keys.pending_key(tag)) == 0


async def test_a_decision_bound_to_another_digest_is_refused_and_records_nothing(store: ApprovalStore) -> None:
    approval = await store.create(
        ApprovalKey("wf-digest", 1),
        prompt="Send the release email?",
        requester="U0ALICE123",
        workflow="draft",
        timeout_s=60,
        digest="ab" * 32,
    )

    with pytest.raises(StaleVersion) as stale:
        await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678", digest="cd" * 8)
    assert stale.value.approval.pending
    assert [e.event for e in await read_audit(store.redis)] == ["created"]  # nothing recorded, not even a refusal
    decided = await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678", digest="ab" * 8)
    assert decided.state is State.APPROVED
