"""What the Home tab reads, against a real Redis: who opened Home (with its TTL), every pending approval soonest
deadline first, and the newest audit entries first."""

from __future__ import annotations

from bot.approvals import ApprovalKey, ApprovalStore, Outcome
from bot.approvals.audit import latest_audit
from bot.approvals.listing import pending_approvals
from bot.slack.home import Visitors


async def test_visitors_lapse_after_their_ttl_and_the_key_expires(store: ApprovalStore) -> None:
    now = [1_000.0]
    visitors = Visitors(store.redis, ttl_s=60, clock=lambda: now[0])
    await visitors.visited("U0ALICE001")
    now[0] += 30
    await visitors.visited("U0BOB00001")
    assert sorted(await visitors.recent()) == ["U0ALICE001", "U0BOB00001"]
    assert 0 < await store.redis.pttl(visitors.key) <= 60_000  # the key itself has a TTL

    now[0] += 31  # alice's visit is 61 s old: she no longer gets refreshes
    assert await visitors.recent() == ["U0BOB00001"]
    await visitors.visited("U0BOB00001")  # a visit prunes lapsed members
    assert await store.redis.zcard(visitors.key) == 1


async def test_pending_approvals_soonest_deadline_first_and_only_pending(store: ApprovalStore) -> None:
    for n, timeout in ((1, 300), (2, 100), (3, 200)):
        await store.create(
            ApprovalKey(f"wf-{n}", 1), prompt=f"p{n}", requester="U0ALICE001", workflow="draft", timeout_s=timeout
        )
    await store.decide("wf-3.1", Outcome.APPROVED, "U0BOB00001")

    assert [a.id for a in await pending_approvals(store.redis)] == ["wf-2.1", "wf-1.1"]
    assert [a.id for a in await pending_approvals(store.redis, limit=1)] == ["wf-2.1"]

    entries = await latest_audit(store.redis)
    assert (entries[0].event, entries[0].approval_id, entries[0].user) == ("approved", "wf-3.1", "U0BOB00001")
    assert [e.at_ms for e in entries] == sorted((e.at_ms for e in entries), reverse=True)
    assert {e.approval_id for e in entries if e.event == "created"} == {"wf-1.1", "wf-2.1", "wf-3.1"}
    assert len(await latest_audit(store.redis, per_bucket=1)) <= 3
