"""Quorum and separation of duties, enforced by the engine's one transition against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.approvals import (
    AlreadyCounted,
    AlreadyDecided,
    Approval,
    ApprovalKey,
    ApprovalStore,
    Expired,
    Outcome,
    SelfApprovalRefused,
    State,
    Terms,
)
from bot.approvals.audit import AuditEntry, read_audit
from tests.conditions import waiting
from tests.engine import close_store, open_store

REQUESTER = "U0ALICE123"
U1, U2, U3 = "U0BOB45678", "U0CAROL999", "U0DAVE0001"
TWO = Terms(quorum=2, kind="tool", tool="run_sql", args='{"sql":"DROP TABLE t"}', rule="sql-ddl", risk="high")


async def ask(
    store: ApprovalStore, workflow_id: str = "wfq", step: int = 0, terms: Terms = TWO, timeout_s: float = 60
) -> Approval:
    return await store.create(
        ApprovalKey(workflow_id, step),
        prompt="Run DROP TABLE t?",
        requester=REQUESTER,
        workflow="ops",
        timeout_s=timeout_s,
        terms=terms,
    )


async def audit_of(store: ApprovalStore, approval_id: str) -> list[AuditEntry]:
    return [e for e in await read_audit(store.redis) if e.approval_id == approval_id]


@pytest.fixture
async def replica(redis_url: str) -> AsyncIterator[ApprovalStore]:
    """A second store on its own connections, as another replica of the bot."""
    other = await open_store(redis_url)
    yield other
    await close_store(other)


async def test_two_different_approvers_decide_it_only_with_the_second(store: ApprovalStore) -> None:
    approval = await ask(store)
    marker = await ask(store, "marker", terms=Terms())
    waiter = asyncio.create_task(store.wait(approval.id))
    marker_waiter = asyncio.create_task(store.wait(marker.id))
    await waiting(store, 2)

    counted = await store.decide(approval.id, Outcome.APPROVED, U1)
    # A decision published after the count reaches this process after anything the count would have published.
    await store.decide(marker.id, Outcome.APPROVED, U3)
    await asyncio.wait_for(marker_waiter, 5)

    assert counted.pending and counted.approved_by == (U1,) and counted.decider == ""
    assert not waiter.done()
    assert (await store.get(approval.id)).approved_by == (U1,)  # type: ignore[union-attr]

    decided = await store.decide(approval.id, Outcome.APPROVED, U2)
    woken = await asyncio.wait_for(waiter, 5)

    assert (decided.state, decided.decider, decided.approved_by) == (State.APPROVED, U2, (U1, U2))
    assert (woken.state, woken.decider, woken.approved_by) == (State.APPROVED, U2, (U1, U2))
    assert await store.get(approval.id) == decided
    entries = await audit_of(store, approval.id)
    assert [(e.event, e.user, e.deciders, e.count) for e in entries] == [
        ("created", REQUESTER, "", 0),
        ("approval_counted", U1, U1, 1),
        ("approved", U2, f"{U1},{U2}", 0),
    ]
    approved = entries[-1]
    assert (approved.kind, approved.tool, approved.rule) == ("tool", "run_sql", "sql-ddl")
    assert approved.waited_ms >= entries[1].waited_ms >= 0


async def test_the_same_person_twice_is_counted_once(store: ApprovalStore) -> None:
    approval = await ask(store)
    await store.decide(approval.id, Outcome.APPROVED, U1)

    with pytest.raises(AlreadyCounted) as again:
        await store.decide(approval.id, Outcome.APPROVED, U1)

    assert again.value.approval.pending and again.value.approval.approved_by == (U1,)
    assert (await store.get(approval.id)).pending  # type: ignore[union-attr]
    decided = await store.decide(approval.id, Outcome.APPROVED, U2)
    assert (decided.state, decided.approved_by) == (State.APPROVED, (U1, U2))
    assert [(e.event, e.user) for e in await audit_of(store, approval.id)] == [
        ("created", REQUESTER),
        ("approval_counted", U1),
        ("duplicate_approval", U1),
        ("approved", U2),
    ]


@pytest.mark.parametrize("outcome", [Outcome.CANCELLED, Outcome.REVISED])
async def test_a_revise_or_cancel_after_one_approval_ends_it_at_once(store: ApprovalStore, outcome: Outcome) -> None:
    approval = await ask(store)
    waiter = asyncio.create_task(store.wait(approval.id))
    await store.decide(approval.id, Outcome.APPROVED, U1)

    decided = await store.decide(approval.id, outcome, U2, "not today")
    woken = await asyncio.wait_for(waiter, 5)

    assert (decided.state, decided.decider, decided.approved_by) == (State(outcome.value), U2, (U1,))
    assert (woken.state, woken.decider, woken.approved_by) == (State(outcome.value), U2, (U1,))
    with pytest.raises(AlreadyDecided):
        await store.decide(approval.id, Outcome.APPROVED, U3)
    last = (await audit_of(store, approval.id))[-1]
    assert (last.event, last.user, last.deciders, last.feedback) == (outcome.value, U2, U2, "not today")


async def test_the_requester_may_not_approve_their_own_request_where_the_terms_say_so(store: ApprovalStore) -> None:
    approval = await ask(store, terms=Terms(self_approval=False, kind="code", rule="code-exec"))

    with pytest.raises(SelfApprovalRefused) as refused:
        await store.decide(approval.id, Outcome.APPROVED, REQUESTER)

    assert refused.value.approval.pending and refused.value.approval.approved_by == ()
    assert (await store.get(approval.id)).pending  # type: ignore[union-attr]
    decided = await store.decide(approval.id, Outcome.APPROVED, U1)
    assert (decided.state, decided.approved_by) == (State.APPROVED, (U1,))
    entries = await audit_of(store, approval.id)
    assert [(e.event, e.user) for e in entries] == [
        ("created", REQUESTER),
        ("self_approval_refused", REQUESTER),
        ("approved", U1),
    ]
    assert (entries[1].kind, entries[1].rule) == ("code", "code-exec")


async def test_the_requester_may_still_revise_or_cancel_and_by_default_approve(store: ApprovalStore) -> None:
    strict = await ask(store, "strict", terms=Terms(self_approval=False))
    lenient = await ask(store, "lenient", terms=Terms())

    cancelled = await store.decide(strict.id, Outcome.CANCELLED, REQUESTER)
    approved = await store.decide(lenient.id, Outcome.APPROVED, REQUESTER)

    assert (cancelled.state, cancelled.decider) == (State.CANCELLED, REQUESTER)
    assert (approved.state, approved.decider, approved.approved_by) == (State.APPROVED, REQUESTER, (REQUESTER,))


async def test_the_requester_is_not_one_of_a_quorum_that_excludes_them(store: ApprovalStore) -> None:
    approval = await ask(store, terms=Terms(quorum=2, self_approval=False))
    await store.decide(approval.id, Outcome.APPROVED, U1)

    with pytest.raises(SelfApprovalRefused):
        await store.decide(approval.id, Outcome.APPROVED, REQUESTER)

    decided = await store.decide(approval.id, Outcome.APPROVED, U2)
    assert decided.approved_by == (U1, U2)


async def test_one_person_approving_through_two_replicas_at_once_is_counted_once(
    store: ApprovalStore, replica: ApprovalStore
) -> None:
    approvals = [await ask(store, f"same-{n}") for n in range(20)]

    for approval in approvals:
        results = await asyncio.gather(
            store.decide(approval.id, Outcome.APPROVED, U1),
            replica.decide(approval.id, Outcome.APPROVED, U1),
            return_exceptions=True,
        )

        counted = [r for r in results if isinstance(r, Approval)]
        refused = [r for r in results if isinstance(r, AlreadyCounted)]
        assert len(counted) == 1 and len(refused) == 1, results
        assert counted[0].pending and counted[0].approved_by == (U1,)
    events = [e.event for e in await read_audit(store.redis)]
    assert (events.count("approval_counted"), events.count("duplicate_approval")) == (20, 20)
    assert "approved" not in events


async def test_two_people_approving_through_two_replicas_at_once_approve_it_once(
    store: ApprovalStore, replica: ApprovalStore
) -> None:
    approvals = [await ask(store, f"pair-{n}") for n in range(20)]

    for approval in approvals:
        first, second = await asyncio.gather(
            store.decide(approval.id, Outcome.APPROVED, U1), replica.decide(approval.id, Outcome.APPROVED, U2)
        )

        assert sorted((first.state, second.state)) == [State.APPROVED, State.PENDING]
        decided = first if first.state is State.APPROVED else second
        assert set(decided.approved_by) == {U1, U2} and decided.decider == decided.approved_by[-1]
    audit = await read_audit(store.redis)
    for approval in approvals:
        assert [e.event for e in audit if e.approval_id == approval.id] == ["created", "approval_counted", "approved"]


async def test_a_re_sent_counted_approval_answers_counted_again(store: ApprovalStore) -> None:
    approval = await ask(store)

    first = await store.decide(approval.id, Outcome.APPROVED, U1, nonce="click-1")
    again = await store.decide(approval.id, Outcome.APPROVED, U1, nonce="click-1")

    assert first == again and again.pending and again.approved_by == (U1,)
    with pytest.raises(AlreadyCounted):  # the same person clicking again is another call
        await store.decide(approval.id, Outcome.APPROVED, U1, nonce="click-2")
    decided = await store.decide(approval.id, Outcome.APPROVED, U2, nonce="click-3")
    assert await store.decide(approval.id, Outcome.APPROVED, U2, nonce="click-3") == decided
    # U1's first call, re-sent once more after U2 completed it: its approval counted, and it is approved now
    late_resend = await store.decide(approval.id, Outcome.APPROVED, U1, nonce="click-1")
    assert (late_resend.state, late_resend.approved_by) == (State.APPROVED, (U1, U2))
    assert [e.event for e in await audit_of(store, approval.id)] == [
        "created",
        "approval_counted",
        "duplicate_approval",
        "approved",
    ]


async def test_a_re_sent_refusal_is_refused_again_and_audited_once(store: ApprovalStore) -> None:
    approval = await ask(store, terms=Terms(self_approval=False))

    for _ in range(2):
        with pytest.raises(SelfApprovalRefused):
            await store.decide(approval.id, Outcome.APPROVED, REQUESTER, nonce="click-1")

    assert [e.event for e in await audit_of(store, approval.id)] == ["created", "self_approval_refused"]


async def test_the_deadline_expires_a_quorum_approval_half_way_and_keeps_who_approved(store: ApprovalStore) -> None:
    approval = await ask(store, timeout_s=0.3)
    await store.decide(approval.id, Outcome.APPROVED, U1)

    expired = await store.wait(approval.id)
    with pytest.raises(Expired) as late:
        await store.decide(approval.id, Outcome.APPROVED, U2)

    assert (expired.state, expired.decider, expired.approved_by) == (State.EXPIRED, "", (U1,))
    assert late.value.approval.approved_by == (U1,)
    assert [(e.event, e.deciders, e.late_click_by) for e in await audit_of(store, approval.id)] == [
        ("created", "", ""),
        ("approval_counted", U1, ""),
        ("expired", "", ""),
        ("late_click", "", U2),
    ]


async def test_create_stores_the_terms_and_a_re_attach_returns_them(store: ApprovalStore) -> None:
    terms = Terms(
        quorum=2,
        self_approval=False,
        kind="tool",
        tool="run_sql",
        args='{"sql":"DROP TABLE t, u"}',
        rule="sql-ddl",
        risk="high",
    )
    approval = await ask(store, terms=terms)

    again = await ask(store, terms=Terms())

    assert approval.terms == terms and approval.approved_by == ()
    assert again == approval and (await store.get(approval.id)) == approval
    [created] = await audit_of(store, approval.id)
    assert (created.kind, created.tool, created.args, created.rule, created.risk) == (
        "tool",
        "run_sql",
        '{"sql":"DROP TABLE t, u"}',
        "sql-ddl",
        "high",
    )
    assert (created.quorum, created.self_approval) == (2, "deny")


async def test_a_single_approver_is_in_approved_by_and_outcomes_carry_the_terms(store: ApprovalStore) -> None:
    one = await ask(store, "one", terms=Terms(kind="draft", rule="default"))
    other = await ask(store, "other", terms=Terms(kind="draft", rule="default"))
    waiter = asyncio.create_task(store.wait(one.id))

    decided = await store.decide(one.id, Outcome.APPROVED, "policy:reads")
    revised = await store.decide(other.id, Outcome.REVISED, U1, "shorter")

    assert decided.approved_by == ("policy:reads",)
    assert (await asyncio.wait_for(waiter, 5)).approved_by == ("policy:reads",)
    assert revised.approved_by == ()
    outcomes = [e for e in await read_audit(store.redis) if e.event in ("approved", "revised")]
    assert sorted((e.event, e.deciders, e.kind, e.rule) for e in outcomes) == [
        ("approved", "policy:reads", "draft", "default"),
        ("revised", U1, "draft", "default"),
    ]


async def test_an_approver_must_be_named_without_commas(store: ApprovalStore) -> None:
    approval = await ask(store)

    for user in ("", "U1,U2"):
        with pytest.raises(ValueError, match="without commas"):
            await store.decide(approval.id, Outcome.APPROVED, user)

    assert (await store.get(approval.id)).approved_by == ()  # type: ignore[union-attr]
