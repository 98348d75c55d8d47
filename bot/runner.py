"""Executes one run under its lease: rebuilds its workflow with a recording model, asks its humans through the
approval engine, and says how it ended. A resumed run replays what it recorded (see ``bot.durable.recording``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Mapping

from autogen_core import CancellationToken

from bot.approvals import AlreadyDecided, Approval, ApprovalKey, ApprovalStore, Outcome, State
from bot.approvals.policy import Ruling
from bot.bridge import WORKFLOW_CANCELLED_BY, ApprovalInput, AskingRules
from bot.durable.recording import RecordingClient
from bot.durable.store import Lease, LeaseLost, RunStore
from bot.durable.tools import ToolRecorder
from bot.prompts import PromptPoster
from bot.runs import Notices, RunOutcome, RunStatus
from workflows import ModelFactory, Models, ToolWrapper, Verdict, Workflow

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
    Verdict.DONE: RunStatus.DONE,
}

_ENDED_BY = {State.APPROVED: RunStatus.APPROVED, State.CANCELLED: RunStatus.CANCELLED}
"""A person's last decision in this state ends a run with this status (and the report names them)."""

Workflows = Callable[[Models, ToolWrapper], Mapping[str, Workflow]]
"""Builds the workflows for one run around the models and tool wrapper it is given (``workflows.registry``)."""


class RunInterrupted(Exception):
    """The run stopped without an outcome: its worker is shutting down or lost its lease. Report nothing."""


class WorkflowRunner:
    def __init__(
        self,
        store: ApprovalStore,
        poster: PromptPoster,
        runs: RunStore,
        workflows: Workflows,
        models: Models,
        timeout_s: float,
        *,
        rules: AskingRules | None = None,
        notices: Notices | None = None,
    ) -> None:
        """``rules``: how every run asks (the policy may answer steps for people: ``bot.rulings``); ``notices``
        hears of the steps the policy refuses."""
        self._store = store
        self._poster = poster
        self._runs = runs
        self._workflows = workflows
        self._models = models
        self._timeout_s = timeout_s
        self._rules = rules or AskingRules()
        self._notices = notices
        self._humans: dict[str, ApprovalInput] = {}

    def stop(self, workflow_id: str) -> None:
        """Leave the run's pending approval as it is (another worker resumes the run and waits on it)."""
        human = self._humans.get(workflow_id)
        if human is not None:
            human.detach()

    async def execute(self, lease: Lease, token: CancellationToken) -> RunOutcome:
        """Run (or resume) the workflow of ``lease``; raises ``RunInterrupted`` when it stopped without an end."""
        request = lease.request
        clients: list[RecordingClient] = []
        calls = itertools.count()  # one sequence of model answers for the whole run, whichever role asks

        def models(role: str) -> ModelFactory:
            def model() -> RecordingClient:
                client = RecordingClient(self._models(role)(), self._runs, lease, calls)
                clients.append(client)
                return client

            return model

        async def denied(approval: Approval, ruling: Ruling) -> None:
            if self._notices is not None:
                try:
                    await self._notices.denied(request, approval, ruling.rule)
                except Exception:
                    log.exception("could not tell the requester of run %s of a refusal", request.workflow_id)

        async def checkpoint(approval: Approval, state: str) -> None:  # fenced: without the lease, no card
            await self._runs.record_step(lease, approval.step, state)

        human = ApprovalInput(
            store=self._store,
            poster=self._poster,
            workflow_id=request.workflow_id,
            workflow=request.workflow,
            requester=request.requester,
            timeout_s=self._timeout_s,
            before_post=checkpoint,
            resumed=lease.resumed,
            rules=self._rules,
            ask_again=lease.ask_again,
            on_denied=denied,
        )

        def lost() -> None:  # a tool call found the lease gone: stop the run here, report nothing
            human.detach()
            token.cancel()

        tools = ToolRecorder(self._runs, lease, human, lost)
        workflow = self._workflows(models, tools).get(request.workflow)
        if workflow is None:  # a resumed run whose workflow this version no longer offers
            await self._close_pending(request.workflow_id, f"this bot no longer offers the {request.workflow} workflow")
            return RunOutcome(request.workflow_id, request.workflow, RunStatus.FAILED, detail="no such workflow")
        self._humans[request.workflow_id] = human
        if lease.resumed:
            log.info("resuming workflow %s (%s)", request.workflow_id, workflow.name)
        try:
            result = await workflow.run(request.task, human, token)
        except (asyncio.CancelledError, LeaseLost) as exc:
            raise RunInterrupted(request.workflow_id) from exc
        except Exception as exc:
            if human.detached or token.is_cancelled() or _caused_by(exc, LeaseLost):
                raise RunInterrupted(request.workflow_id) from exc
            log.exception("workflow %s failed", request.workflow_id)
            return RunOutcome(
                request.workflow_id, workflow.name, RunStatus.FAILED, detail="the agent stopped with an error"
            )
        finally:
            self._humans.pop(request.workflow_id, None)
        if human.detached:
            raise RunInterrupted(request.workflow_id)
        last = human.decisions[-1] if human.decisions else None
        replayed = sum(client.replayed for client in clients)
        log.info(
            "workflow %s ended: %s (%d model answers and %d tool results replayed)",
            request.workflow_id,
            result.verdict,
            replayed,
            tools.replayed,
        )
        status = _STATUS[result.verdict]
        # The person who decided the end, where a person's last decision is what ended it (a run stopped by the
        # revision limit after a Revise was not cancelled by the reviser).
        decided = last is not None and _ENDED_BY.get(last.state) is status
        return RunOutcome(
            workflow_id=request.workflow_id,
            workflow=workflow.name,
            status=status,
            output=result.output,
            detail=result.detail,
            decided_by=last.decider if decided and last is not None else "",
        )

    async def _close_pending(self, workflow_id: str, why: str) -> None:
        """Cancel the card the run was waiting on, if any, so nobody decides something no run will read."""
        step, _ = await self._runs.checkpoint(workflow_id)
        if step < 1:
            return
        for attempt in itertools.count():
            approval = await self._store.get(ApprovalKey(workflow_id, step, attempt).approval_id)
            if approval is None:
                return
            if approval.pending:
                with contextlib.suppress(AlreadyDecided):
                    await self._store.decide(approval.id, Outcome.CANCELLED, WORKFLOW_CANCELLED_BY, why)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
