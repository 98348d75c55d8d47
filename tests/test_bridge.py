"""The input function inside a real AutoGen team, against a real Redis, with a recording prompt poster."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from autogen_core import CancellationToken

from bot.approvals import Approval, ApprovalKey, ApprovalStore, Outcome, State
from bot.approvals.audit import read_audit
from bot.bridge import WORKFLOW_CANCELLED_BY, ApprovalInput
from bot.prompts import MessageRef
from tests.conditions import waiting
from workflows import Verdict
from workflows.draft import DraftWorkflow
from workflows.model import model_factory, replay_config

FIRST = "Subject: Launch\n\nWe launch on Monday. <!channel> please read."
SECOND = "Subject: Launch\n\nShort version: we launch Monday."


class RecordingPoster:
    """A poster as the protocol asks: records where each card is (a ts of its own) before returning."""

    def __init__(self, store: ApprovalStore, fail: bool = False) -> None:
        self.store = store
        self.posted: asyncio.Queue[tuple[Approval, Approval | None]] = asyncio.Queue()
        self.count = 0
        self.fail = fail
        self.withdrawn: list[tuple[str, MessageRef, bool]] = []
        self.batches: asyncio.Queue[list[Approval]] = asyncio.Queue()

    async def post(
        self,
        approval: Approval,
        previous: Approval | None,
        *,
        look_first: bool = False,
        reuse: MessageRef | None = None,
    ) -> MessageRef:
        if self.fail:
            raise ConnectionError("Slack is unreachable")
        self.count += 1
        ref = MessageRef("C0APPROVAL", f"1714000000.{self.count:06d}")
        await self.store.attach_message(approval.id, ref.channel, ref.ts)
        self.posted.put_nowait((approval, previous))
        return ref

    async def post_many(self, approvals: Sequence[Approval], *, look_first: bool = False) -> dict[str, MessageRef]:
        """One card for all of them (the recording poster has no size limits)."""
        if self.fail:
            raise ConnectionError("Slack is unreachable")
        self.count += 1
        ref = MessageRef("C0APPROVAL", f"1714000000.{self.count:06d}")
        for approval in approvals:
            await self.store.attach_message(approval.id, ref.channel, ref.ts)
        self.batches.put_nowait(list(approvals))
        return {approval.id: ref for approval in approvals}

    async def withdraw(self, approval: Approval, ref: MessageRef, *, lost: bool = False) -> None:
        self.withdrawn.append((approval.id, ref, lost))


async def workflow(*answers: str) -> DraftWorkflow:
    return DraftWorkflow(await model_factory(replay_config(list(answers))))


def input_for(store: ApprovalStore, poster: RecordingPoster, timeout_s: float = 60) -> ApprovalInput:
    return ApprovalInput(
        store=store, poster=poster, workflow_id="wf42", workflow="draft", requester="U0ALICE123", timeout_s=timeout_s
    )


async def test_team_revises_once_then_ends_on_approve(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    human_input = input_for(store, poster)
    run = asyncio.create_task((await workflow(FIRST, SECOND)).run("Announce the launch", human_input))

    first, previous = await asyncio.wait_for(poster.posted.get(), 10)
    await store.decide(first.id, Outcome.REVISED, "U0BOB45678", "make it shorter")
    second, second_previous = await asyncio.wait_for(poster.posted.get(), 10)
    await store.decide(second.id, Outcome.APPROVED, "U0BOB45678")
    result = await asyncio.wait_for(run, 10)

    assert (first.prompt, previous) == (FIRST, None)  # the draft itself, not "Enter your response: "
    assert second.prompt == SECOND and second_previous is not None
    assert (second_previous.id, second_previous.feedback) == (first.id, "make it shorter")
    assert (first.id, second.id) == ("wf42.1", "wf42.2")  # steps count from 1
    assert (await store.find_by_message("C0APPROVAL", "1714000000.000002")) == await store.get(second.id)
    assert (result.verdict, result.output, result.revisions) == (Verdict.APPROVE, SECOND, 1)
    events = [(e.approval_id, e.event) for e in await read_audit(store.redis)]
    assert sorted(events) == [
        ("wf42.1", "created"),
        ("wf42.1", "revised"),
        ("wf42.2", "approved"),
        ("wf42.2", "created"),
    ]


async def test_cancel_ends_the_run(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    run = asyncio.create_task((await workflow(FIRST)).run("Announce", input_for(store, poster)))

    approval, _ = await asyncio.wait_for(poster.posted.get(), 10)
    await store.decide(approval.id, Outcome.CANCELLED, "U0BOB45678")
    result = await asyncio.wait_for(run, 10)

    assert result.verdict is Verdict.CANCEL
    assert "U0BOB45678" in result.detail


async def test_expiry_takes_the_safe_default(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)

    result = await asyncio.wait_for((await workflow(FIRST)).run("Announce", input_for(store, poster, 0.2)), 10)

    approval, _ = poster.posted.get_nowait()
    assert result.verdict is Verdict.EXPIRED
    assert (await store.get(approval.id)).state is State.EXPIRED  # type: ignore[union-attr]


async def test_cancelling_the_workflow_cancels_the_wait_and_the_approval(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    token = CancellationToken()
    run = asyncio.create_task((await workflow(FIRST)).run("Announce", input_for(store, poster), token))

    approval, _ = await asyncio.wait_for(poster.posted.get(), 10)
    token.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 10)
    cancelled = await store.get(approval.id)
    assert cancelled is not None
    assert (cancelled.state, cancelled.decider) == (State.CANCELLED, WORKFLOW_CANCELLED_BY)
    assert store.subscriber.waiting == 0


async def test_prompt_that_cannot_be_posted_cancels_instead_of_hanging(store: ApprovalStore) -> None:
    human_input = input_for(store, RecordingPoster(store, fail=True))

    reply = await asyncio.wait_for(human_input("Deploy to production?"), 5)

    assert reply.startswith("CANCEL:")
    assert (await store.get("wf42.1")).state is State.CANCELLED  # type: ignore[union-attr]


async def test_replayed_run_reattaches_without_posting_again(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    # What a worker that died mid-wait leaves behind: a pending approval whose card was posted.
    left = await store.create(
        ApprovalKey("wf42", 1), prompt="Deploy?", requester="U0ALICE123", workflow="draft", timeout_s=60
    )
    await store.attach_message(left.id, "C0APPROVAL", "1714000000.000001")

    replay = input_for(store, poster)  # the restarted worker replays the workflow from its first step
    reply = asyncio.create_task(replay("Deploy?"))
    await waiting(store, 1)
    await store.decide(left.id, Outcome.APPROVED, "U0BOB45678")

    assert await asyncio.wait_for(reply, 5) == "APPROVE"
    assert poster.posted.empty()  # the card posted before the restart is the one that was clicked


async def test_lost_record_ends_the_wait_with_cancel(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    reply = asyncio.create_task(input_for(store, poster)("Deploy?"))
    await asyncio.wait_for(poster.posted.get(), 5)
    await waiting(store, 1)

    await store.redis.flushall()
    await store.subscriber.resync()  # what a reconnect or the periodic sweep does

    assert await asyncio.wait_for(reply, 5) == "CANCEL: the approval record was lost"
    assert poster.withdrawn == [("wf42.1", MessageRef("C0APPROVAL", "1714000000.000001"), True)]  # no live buttons


class CancellingStore(ApprovalStore):
    """A real store whose ``create`` lets a test act while the approval is being created."""

    during_create: Callable[[], None] = staticmethod(lambda: None)

    async def create(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        approval = await super().create(*args, **kwargs)
        self.during_create()
        return approval


async def test_token_cancelled_while_the_approval_is_created_posts_no_card(store: ApprovalStore) -> None:
    token = CancellationToken()
    racing = CancellingStore(store.redis)
    racing.during_create = token.cancel
    poster = RecordingPoster(racing)
    human_input = ApprovalInput(
        store=racing, poster=poster, workflow_id="wf43", workflow="draft", requester="U0ALICE123", timeout_s=60
    )

    with pytest.raises(asyncio.CancelledError):
        await human_input("Deploy to production?", token)

    assert poster.posted.empty()
    cancelled = await store.get("wf43.1")
    assert cancelled is not None and (cancelled.state, cancelled.decider) == (State.CANCELLED, WORKFLOW_CANCELLED_BY)


async def test_a_token_holds_one_callback_however_many_approvals_it_asks(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    token = CancellationToken()
    human_input = input_for(store, poster)

    for _ in range(20):
        ask = asyncio.create_task(human_input("Deploy?", token))
        approval, _ = await asyncio.wait_for(poster.posted.get(), 5)
        await store.decide(approval.id, Outcome.REVISED, "U0BOB45678", "again")
        assert (await asyncio.wait_for(ask, 5)).startswith("REVISE:")

    assert len(token._callbacks) == 1  # AutoGen's token keeps every callback until it is cancelled


async def test_a_run_asking_something_else_at_a_step_never_gets_the_old_decision(store: ApprovalStore) -> None:
    first = RecordingPoster(store)
    before = input_for(store, first)
    asked = asyncio.create_task(before("Deploy v1 to production?"))
    old, _ = await asyncio.wait_for(first.posted.get(), 5)
    await store.decide(old.id, Outcome.APPROVED, "U0BOB45678")
    assert await asyncio.wait_for(asked, 5) == "APPROVE"

    # the same run id and step, replayed after a change: it now asks about v2
    second = RecordingPoster(store)
    replay = asyncio.create_task(input_for(store, second)("Deploy v2 to production?"))
    new, _ = await asyncio.wait_for(second.posted.get(), 5)

    assert new.id == f"{old.id}-1" and new.prompt == "Deploy v2 to production?" and new.digest != old.digest
    assert not replay.done()  # not answered with the approval of v1
    await store.decide(new.id, Outcome.CANCELLED, "U0BOB45678")
    assert (await asyncio.wait_for(replay, 5)).startswith("CANCEL:")


async def test_a_replay_asking_the_same_thing_reattaches_to_the_same_approval(store: ApprovalStore) -> None:
    first = RecordingPoster(store)
    asked = asyncio.create_task(input_for(store, first)("Deploy v1?"))
    old, _ = await asyncio.wait_for(first.posted.get(), 5)
    await store.decide(old.id, Outcome.APPROVED, "U0BOB45678")
    await asyncio.wait_for(asked, 5)

    second = RecordingPoster(store)
    assert await asyncio.wait_for(input_for(store, second)("Deploy v1?"), 5) == "APPROVE"
    assert second.posted.empty()  # the decision made before stands: no new card


async def test_each_human_step_is_checkpointed_with_the_teams_state_before_its_card(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    checkpoints: list[tuple[int, dict[str, Any], int]] = []

    async def before_post(approval: Approval, state: str) -> None:
        checkpoints.append((approval.step, json.loads(state), poster.count))

    human_input = input_for(store, poster)
    human_input.before_post = before_post
    run = asyncio.create_task((await workflow(FIRST, SECOND)).run("Announce the launch", human_input))
    first, _ = await asyncio.wait_for(poster.posted.get(), 10)
    await store.decide(first.id, Outcome.REVISED, "U0BOB45678", "make it shorter")
    second, _ = await asyncio.wait_for(poster.posted.get(), 10)
    await store.decide(second.id, Outcome.APPROVED, "U0BOB45678")
    await asyncio.wait_for(run, 10)

    assert [(step, posted) for step, _, posted in checkpoints] == [(1, 0), (2, 1)]  # each before its card
    for (_, state, _), draft in zip(checkpoints, (FIRST, SECOND), strict=True):
        said = [m["content"] for m in state["drafter"]["llm_context"]["messages"] if m["type"] == "AssistantMessage"]
        assert said[-1] == draft  # the drafter's whole conversation up to that step
    assert "make it shorter" in json.dumps(checkpoints[1][1])


async def test_a_step_after_an_approved_one_revises_nothing(store: ApprovalStore) -> None:
    poster = RecordingPoster(store)
    human_input = input_for(store, poster)
    first = asyncio.create_task(human_input("Run the tool `find_customers`?"))
    asked, _ = await asyncio.wait_for(poster.posted.get(), 5)
    await store.decide(asked.id, Outcome.APPROVED, "U0BOB45678")
    assert await first == "APPROVE"

    second = asyncio.create_task(human_input("Run the tool `send_email`?"))
    _, previous = await asyncio.wait_for(poster.posted.get(), 5)
    assert previous is None  # the card does not call itself a revision of the approved one
    second.cancel()
