"""Joins the approval engine to AutoGen: the input function that asks a human and waits for the answer.

Every call is one approval: created (idempotently, keyed by workflow id and step), shown to people through a
``PromptPoster``, awaited on Redis, and turned into a reply a workflow understands. Expiry, a lost record and a
prompt that could not be posted all take the safe default: the workflow is told to stop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from autogen_core import CancellationToken

from bot.approvals import AlreadyDecided, Approval, ApprovalKey, ApprovalStore, Outcome, State, UnknownApproval
from bot.approvals.connection import raise_if_cancelled
from bot.prompts import PromptPoster
from workflows.types import Verdict, format_reply

log = logging.getLogger(__name__)

WORKFLOW_CANCELLED_BY = "workflow"
"""The decider recorded when the workflow itself is cancelled (not a Slack user)."""


@dataclass
class ApprovalInput:
    """The input function of one workflow run; call it as AutoGen does: ``await f(prompt, token)``."""

    store: ApprovalStore
    poster: PromptPoster
    workflow_id: str
    workflow: str
    requester: str
    timeout_s: float
    step: int = 0
    decisions: list[Approval] = field(default_factory=list)
    detached: bool = False
    """Set by ``detach()``: a cancellation now leaves the pending approval as it is."""

    def detach(self) -> None:
        """The process is shutting down: stop waiting, but leave the approval pending for a restarted run."""
        self.detached = True

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        key = ApprovalKey(self.workflow_id, self.step)
        self.step += 1
        approval = await self.store.create(
            key, prompt=prompt, requester=self.requester, workflow=self.workflow, timeout_s=self.timeout_s
        )
        try:
            decided = await self._decision(approval, cancellation_token)
        except asyncio.CancelledError:
            # A cancelled workflow cancels its approval. A process shutting down leaves it pending: its card
            # keeps working, and a restarted run re-attaches to it (creation is idempotent).
            if cancellation_token is not None and cancellation_token.is_cancelled() and not self.detached:
                await asyncio.shield(self._cancel(approval.id))
            raise
        if decided is None:
            return format_reply(Verdict.CANCEL, "the approval prompt could not be posted")
        self.decisions.append(decided)
        return reply_for(decided)

    async def _decision(self, approval: Approval, cancellation_token: CancellationToken | None) -> Approval | None:
        raise_if_cancelled()
        if approval.pending and not approval.ts and not await self._post(approval):
            return None
        raise_if_cancelled()
        waiting = asyncio.ensure_future(self.store.wait(approval.id))
        if cancellation_token is not None:
            cancellation_token.link_future(waiting)
        try:
            return await waiting
        except UnknownApproval:
            log.warning("approval %s vanished from Redis while awaited", approval.id)
            return replace(approval, state=State.CANCELLED, decider="", feedback="the approval record was lost")

    async def _post(self, approval: Approval) -> bool:
        previous = self.decisions[-1] if self.decisions else None
        try:
            ref = await self.poster.post(approval, previous)
            await self.store.attach_message(approval.id, ref.channel, ref.ts)
        except Exception:
            log.exception("could not post the prompt of approval %s; cancelling it", approval.id)
            await self._cancel(approval.id)
            return False
        return True

    async def _cancel(self, approval_id: str) -> None:
        try:
            await self.store.decide(approval_id, Outcome.CANCELLED, WORKFLOW_CANCELLED_BY)
        except AlreadyDecided:
            pass
        except Exception:
            log.exception("could not mark approval %s cancelled", approval_id)


def reply_for(approval: Approval) -> str:
    """What the workflow reads: a verdict word first, so termination conditions need not read the model."""
    if approval.state is State.APPROVED:
        return format_reply(Verdict.APPROVE)
    if approval.state is State.REVISED:
        return format_reply(Verdict.REVISE, approval.feedback or "please revise")
    if approval.state is State.EXPIRED:
        return format_reply(Verdict.EXPIRED, "no decision before the deadline")
    return format_reply(Verdict.CANCEL, approval.feedback or f"cancelled by {approval.decider or 'someone'}")
