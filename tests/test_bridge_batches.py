"""The calls of one model turn asked together through the bot's input function, against a real Redis: the policy
answers what it may, people get the rest on one card and decide each; quorum and self-approval terms reach the
engine with each request."""

from __future__ import annotations

import asyncio

import pytest
from autogen_core import CancellationToken

from bot.approvals import AlreadyCounted, ApprovalStore, Outcome, SelfApprovalRefused, State
from bot.approvals.policy import Policy, load_policy, parse_policy
from bot.bridge import ApprovalInput, AskingRules
from tests.test_bridge import RecordingPoster
from workflows.types import Ask

REQUESTER = "U0ALICE123"


def call(tool: str, **args: object) -> Ask:
    return Ask("tool", f"Run the tool `{tool}`? {args}", tool=tool, args=args)


def human(
    store: ApprovalStore,
    poster: RecordingPoster,
    *,
    policy: Policy | None = None,
    self_approval: bool = True,
    resumed: bool = False,
) -> ApprovalInput:
    return ApprovalInput(
        store=store,
        poster=poster,
        workflow_id="wf7",
        workflow="ops",
        requester=REQUESTER,
        timeout_s=60,
        resumed=resumed,
        rules=AskingRules(policy=policy or load_policy(None), self_approval=self_approval),
    )


async def test_one_card_for_the_calls_people_decide_and_the_policy_answers_the_rest(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    requests = [
        call("send_email", to="ada@example.com"),
        call("find_customers", status="inactive"),  # the built-in policy runs reads at once
        call("send_email", to="bob@example.com"),
        call("run_sql", query="DROP TABLE customers"),  # and refuses DDL
    ]
    asking = asyncio.create_task(human(store, poster).ask_many(requests, None))

    batch = await asyncio.wait_for(poster.batches.get(), 10)
    assert [a.id for a in batch] == ["wf7.1", "wf7.3"] and poster.count == 1
    assert [(a.terms.kind, a.terms.tool, a.terms.rule) for a in batch] == [("tool", "send_email", "default")] * 2
    assert batch[0].terms.args == '{"to":"ada@example.com"}'
    await store.decide("wf7.3", Outcome.CANCELLED, "U0BOB45678", "not Bob")  # decided in any order
    assert not asking.done()
    await store.decide("wf7.1", Outcome.APPROVED, "U0BOB45678")
    replies = await asyncio.wait_for(asking, 10)

    assert replies[0] == "APPROVE" and replies[1] == "APPROVE" and replies[2] == "CANCEL: not Bob"
    assert replies[3].startswith("CANCEL: denied by the policy (rule sql-ddl)")


async def test_a_single_call_still_gets_a_card_of_its_own(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    asking = asyncio.create_task(human(store, poster).ask_many([call("send_email", to="ada@example.com")], None))

    approval, _ = await asyncio.wait_for(poster.posted.get(), 10)
    await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")

    assert await asyncio.wait_for(asking, 10) == ["APPROVE"] and poster.batches.empty()


async def test_ask_two_needs_two_different_people_and_the_requester_may_be_refused(store: ApprovalStore) -> None:
    policy = parse_policy(
        "rules:\n"
        "  - {name: deletes, tool: 'delete_*', action: ask_two, risk: high}\n"
        "  - {name: mail, tool: send_email, action: ask, self_approval: deny}\n"
    )
    poster = RecordingPoster(store)
    asking = asyncio.create_task(
        human(store, poster, policy=policy).ask_many([call("delete_customers", ids=[3]), call("send_email")], None)
    )

    delete, email = await asyncio.wait_for(poster.batches.get(), 10)
    assert (delete.terms.quorum, delete.terms.risk, delete.terms.self_approval) == (2, "high", True)
    assert (email.terms.quorum, email.terms.self_approval) == (1, False)
    counted = await store.decide(delete.id, Outcome.APPROVED, "U0BOB45678")
    assert counted.pending and counted.approved_by == ("U0BOB45678",)
    with pytest.raises(AlreadyCounted):
        await store.decide(delete.id, Outcome.APPROVED, "U0BOB45678")
    with pytest.raises(SelfApprovalRefused):
        await store.decide(email.id, Outcome.APPROVED, REQUESTER)
    await store.decide(delete.id, Outcome.APPROVED, REQUESTER)
    await store.decide(email.id, Outcome.APPROVED, "U0BOB45678")

    assert await asyncio.wait_for(asking, 10) == ["APPROVE", "APPROVE"]
    approved = await store.get(delete.id)
    assert approved is not None and approved.approved_by == ("U0BOB45678", REQUESTER)


async def test_self_approval_deny_applies_where_the_rule_says_nothing(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    asking = asyncio.create_task(human(store, poster, self_approval=False).ask(call("send_email"), None))

    approval, _ = await asyncio.wait_for(poster.posted.get(), 10)
    with pytest.raises(SelfApprovalRefused):
        await store.decide(approval.id, Outcome.APPROVED, REQUESTER)
    await store.decide(approval.id, Outcome.CANCELLED, REQUESTER)  # the requester may still call it off

    assert (await asyncio.wait_for(asking, 10)).startswith("CANCEL")


async def test_cancelling_the_run_cancels_every_call_still_waiting_on_the_card(store: ApprovalStore) -> None:
    poster, token = RecordingPoster(store), CancellationToken()
    asking = asyncio.create_task(human(store, poster).ask_many([call("send_email"), call("delete_customers")], token))
    first, second = await asyncio.wait_for(poster.batches.get(), 10)
    await store.decide(first.id, Outcome.APPROVED, "U0BOB45678")

    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asking, 10)

    states = [(await store.get(a.id)).state for a in (first, second)]  # type: ignore[union-attr]
    assert states == [State.APPROVED, State.CANCELLED]


async def test_a_resumed_batch_reattaches_to_its_card_without_posting_again(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    requests = [call("send_email", to="a"), call("send_email", to="b")]
    first_run = asyncio.create_task(human(store, poster).ask_many(requests, None))
    batch = await asyncio.wait_for(poster.batches.get(), 10)
    await store.decide(batch[0].id, Outcome.APPROVED, "U0BOB45678")
    first_run.cancel()  # the worker died; the cards stay
    with pytest.raises(asyncio.CancelledError):
        await first_run

    resumed = asyncio.create_task(human(store, poster, resumed=True).ask_many(requests, None))
    await store.decide(batch[1].id, Outcome.REVISED, "U0BOB45678", "to c instead")

    assert await asyncio.wait_for(resumed, 10) == ["APPROVE", "REVISE: to c instead"]
    assert poster.count == 1
