"""The runner with a real Redis: a resumed run whose workflow is gone leaves no clickable card behind."""

from __future__ import annotations

from autogen_core import CancellationToken

from bot.approvals import ApprovalKey, ApprovalStore, State
from bot.durable.store import Lease, RunStore
from bot.runner import WorkflowRunner
from bot.runs import RunRequest, RunStatus
from tests.test_bridge import RecordingPoster
from workflows import one_model


async def test_a_resumed_run_whose_workflow_is_gone_cancels_the_card_it_waited_on(store: ApprovalStore) -> None:
    runs = RunStore(store.redis, retention_s=60, lease_s=30)
    await runs.ensure_group()
    await runs.enqueue(RunRequest("wf-gone1", "retired", "Ship it", "U0ALICE123"))
    first = await runs.acquire("wf-gone1", "w1", "0-0")
    assert isinstance(first, Lease)
    card = await store.create(
        ApprovalKey("wf-gone1", 1), prompt="Ship it?", requester="U0ALICE123", workflow="retired", timeout_s=60
    )
    await runs.record_step(first, 1)
    await runs.release(first, "w1")
    resumed = await runs.acquire("wf-gone1", "w2", "0-0")
    assert isinstance(resumed, Lease) and resumed.resumed

    runner = WorkflowRunner(
        store,
        RecordingPoster(store),
        runs,
        lambda models, tools: {},
        one_model(lambda: None),
        60,  # type: ignore[arg-type, return-value]
    )
    outcome = await runner.execute(resumed, CancellationToken())

    assert outcome.status is RunStatus.FAILED and outcome.detail == "no such workflow"
    closed = await store.get(card.id)
    assert closed is not None and closed.state is State.CANCELLED
    assert closed.feedback == "this bot no longer offers the retired workflow"
