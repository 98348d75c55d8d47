"""Owns the background workflow runs: starts them, reports how each ended, cancels and awaits them on exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping

from autogen_core import CancellationToken

from bot.approvals import ApprovalStore
from bot.bridge import ApprovalInput
from bot.prompts import PromptPoster
from bot.runs import Reporter, RunOutcome, RunStatus
from workflows import Verdict, Workflow

log = logging.getLogger(__name__)


def _not_a_stopped_run(record: logging.LogRecord) -> bool:
    """AutoGen logs a run stopped through its cancellation token as an ERROR with a traceback; it is not one."""
    return not (record.exc_info and record.exc_info[0] is asyncio.CancelledError)


logging.getLogger("autogen_core").addFilter(_not_a_stopped_run)

_STATUS = {
    Verdict.APPROVE: RunStatus.APPROVED,
    Verdict.CANCEL: RunStatus.CANCELLED,
    Verdict.EXPIRED: RunStatus.EXPIRED,
    Verdict.REVISE: RunStatus.CANCELLED,
}


class WorkflowRunner:
    def __init__(
        self, store: ApprovalStore, poster: PromptPoster, workflows: Mapping[str, Workflow], timeout_s: float
    ) -> None:
        self._store = store
        self._poster = poster
        self._workflows = workflows
        self._timeout_s = timeout_s
        self._runs: dict[str, tuple[asyncio.Task[None], CancellationToken, ApprovalInput]] = {}

    def start(self, workflow: str, task: str, requester: str, report: Reporter, workflow_id: str = "") -> None:
        """Start ``workflow`` on ``task`` in the background, as ``workflow_id`` (a new one if empty)."""
        chosen = self._workflows[workflow]
        workflow_id = workflow_id or f"wf-{uuid.uuid4().hex[:12]}"
        token = CancellationToken()
        human = ApprovalInput(
            store=self._store,
            poster=self._poster,
            workflow_id=workflow_id,
            workflow=chosen.name,
            requester=requester,
            timeout_s=self._timeout_s,
        )
        run = asyncio.create_task(self._run(chosen, task, human, token, report), name=workflow_id)
        self._runs[workflow_id] = (run, token, human)
        run.add_done_callback(lambda _: self._runs.pop(workflow_id, None))
        log.info("started workflow %s (%s) for %s", workflow_id, chosen.name, requester)

    async def aclose(self, grace_s: float = 10.0) -> None:
        """Stop every run for a shutdown. Their pending approvals stay pending, so the cards keep recording
        decisions from any process (a later run with the same workflow id would re-attach to them)."""
        runs = [run for run, _, _ in self._runs.values()]
        for _, token, human in self._runs.values():
            human.detach()
            token.cancel()  # AutoGen runs the input function in its runtime's task: the token reaches it
        if not runs:
            return
        _, late = await asyncio.wait(runs, timeout=grace_s)
        for run in late:
            run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*runs, return_exceptions=True)

    async def _run(
        self, workflow: Workflow, task: str, human: ApprovalInput, token: CancellationToken, report: Reporter
    ) -> None:
        try:
            result = await workflow.run(task, human, token)
        except asyncio.CancelledError:
            log.info("workflow %s stopped", human.workflow_id)
            detail = "the bot shut down before it finished" if human.detached else "it was stopped"
            outcome = RunOutcome(human.workflow_id, workflow.name, RunStatus.FAILED, detail=detail)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(report(outcome)), 5)
            raise
        except Exception:
            log.exception("workflow %s failed", human.workflow_id)
            outcome = RunOutcome(
                human.workflow_id, workflow.name, RunStatus.FAILED, detail="the agent stopped with an error"
            )
        else:
            last = human.decisions[-1] if human.decisions else None
            outcome = RunOutcome(
                workflow_id=human.workflow_id,
                workflow=workflow.name,
                status=_STATUS[result.verdict],
                output=result.output,
                detail=result.detail,
                decided_by=last.decider if last is not None else "",
            )
        log.info("workflow %s ended: %s", human.workflow_id, outcome.status)
        try:
            await report(outcome)
        except Exception:
            log.exception("could not report the end of workflow %s", human.workflow_id)
