"""Joins the approval engine to AutoGen: the input function that asks a human and waits for the answer.

Every call is one approval: created (idempotently, keyed by workflow id and step), shown to people through a
``PromptPoster``, awaited on Redis, and turned into a reply a workflow understands. Expiry, a lost record and a
prompt that could not be posted all take the safe default: the workflow is told to stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from autogen_core import CancellationToken

from bot.approvals import (
    AlreadyDecided,
    Approval,
    ApprovalKey,
    ApprovalStore,
    Outcome,
    State,
    StoreClosed,
    UnknownApproval,
)
from bot.approvals.connection import raise_if_cancelled
from bot.approvals.policy import Action, Policy, Ruling
from bot.prompts import MessageRef, PromptPoster
from bot.rulings import decider_for, denial, digest_of, ruling_for, shown_text
from workflows.types import Ask, Verdict, format_reply

log = logging.getLogger(__name__)

WORKFLOW_CANCELLED_BY = "workflow"
SUPERSEDED = "superseded: the run now asks something else at this step, so this card decides nothing"
"""The decider recorded when the workflow itself is cancelled (not a Slack user)."""


@dataclass
class ApprovalInput:
    """The input function of one workflow run; call it as AutoGen does: ``await f(prompt, token)``.

    Steps are counted from 1: the first human step of a run is step 1, its approval ``<workflow_id>.1``.
    """

    store: ApprovalStore
    poster: PromptPoster
    workflow_id: str
    workflow: str
    requester: str
    timeout_s: float
    step: int = 0
    """The last step asked; the next call asks step ``step + 1``."""
    decisions: list[Approval] = field(default_factory=list)
    detached: bool = False
    """Set by ``detach()``: a cancellation now leaves the pending approval as it is."""
    resumed: bool = False
    """A resumed run: a card it asks for may have been posted by the worker that died (the poster looks first)."""
    before_post: Callable[[Approval, str], Awaitable[None]] | None = None
    """Called before a card is posted with the step's checkpointed state as JSON ("" if the workflow gave none):
    a durable run records both, fenced (it raises if the run's lease is lost, and then no card is posted)."""
    policy: Policy | None = None
    """The risk policy: a rule may answer a step (``auto``, ``deny``) instead of a person; None asks people."""
    on_denied: Callable[[Approval, Ruling], Awaitable[None]] | None = None
    """Called when the policy refuses a step (the requester is told)."""
    _state: str = field(default="", init=False, repr=False)
    _shown: MessageRef | None = field(default=None, init=False, repr=False)
    """Where this step's card was posted (by this process)."""
    _waiting: asyncio.Future[Approval] | None = field(default=None, init=False, repr=False)
    _hooked: list[CancellationToken] = field(default_factory=list, init=False, repr=False)
    _one_at_a_time: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def checkpoint(self, state: Mapping[str, Any]) -> None:
        """The workflow's state at the step it is about to ask (``workflows.types.checkpoint``)."""
        self._state = json.dumps(state, separators=(",", ":"), default=str)

    def detach(self) -> None:
        """The process is shutting down: stop waiting, but leave the approval pending for a restarted run."""
        self.detached = True

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        return await self.ask(Ask("draft", prompt), cancellation_token)

    async def ask(self, request: Ask, cancellation_token: CancellationToken | None = None) -> str:
        """Ask one step (``workflows.types.Asking``): the policy's rule may answer it, else a person does."""
        # One step at a time, in the order asked (a lock is fair): concurrent tool calls of one turn get their
        # steps in the order their tasks started, so a resumed run asks its steps in the same order.
        async with self._one_at_a_time:
            return await self._step(request, cancellation_token)

    async def _step(self, request: Ask, cancellation_token: CancellationToken | None) -> str:
        self._hook(cancellation_token)
        if _cancelled(cancellation_token):
            raise asyncio.CancelledError  # nothing asked, nothing to post
        self.step += 1
        ruling = ruling_for(self.policy, request)
        prompt = shown_text(request, ruling)
        approval = await self._ask(prompt, digest_of(request, prompt, revision=len(self.decisions)))
        if ruling.action in (Action.AUTO, Action.DENY, Action.ASK_TWO):
            return await self._by_policy(approval, ruling)
        try:
            if _cancelled(cancellation_token):  # cancelled while the approval was being created: post no card
                raise asyncio.CancelledError
            decided = await self._decision(approval, cancellation_token)
        except asyncio.CancelledError:
            # A cancelled workflow cancels its approval. A process shutting down leaves it pending: its card
            # keeps working, and a restarted run re-attaches to it (creation is idempotent).
            if _cancelled(cancellation_token) and not self.detached:
                await asyncio.shield(self._cancel(approval.id))
            raise
        if decided is None:
            return format_reply(Verdict.CANCEL, "the approval prompt could not be posted")
        self.decisions.append(decided)
        return reply_for(decided)

    async def _by_policy(self, approval: Approval, ruling: Ruling) -> str:
        """A step the policy answers: recorded (and audited) as decided by ``policy:<rule>``; no card."""
        if ruling.action is Action.AUTO:
            outcome, why = Outcome.APPROVED, None
        elif ruling.action is Action.DENY:
            outcome, why = Outcome.CANCELLED, denial(ruling)
        else:  # fail closed until the engine counts two approvers
            outcome, why = Outcome.CANCELLED, f"rule {ruling.rule} needs two approvers, which this version cannot count"
        decided = approval
        if approval.pending:
            try:
                decided = await self.store.decide(approval.id, outcome, decider_for(ruling), why)
            except AlreadyDecided as exc:
                decided = exc.approval
            await self.store.mark_shown(decided.id, decided.state)  # there is no card to show it on
            if outcome is Outcome.CANCELLED and self.on_denied is not None:
                await self.on_denied(decided, ruling)
        log.info(
            "step %d of %s answered by policy rule %s: %s", self.step, self.workflow_id, ruling.rule, decided.state
        )
        self.decisions.append(decided)
        return reply_for(decided)

    async def _ask(self, prompt: str, digest: str) -> Approval:
        """The approval of this step: created, or re-attached if it asks exactly what was asked before (same
        digest). A run that now asks something else at this step (a changed workflow, a model that answered
        differently) must not get the old answer: the old approval is superseded, loudly, and a new one made."""
        attempt = 0
        while True:
            key = ApprovalKey(self.workflow_id, self.step, attempt)
            approval = await self.store.create(
                key,
                prompt=prompt,
                requester=self.requester,
                workflow=self.workflow,
                timeout_s=self.timeout_s,
                digest=digest,
            )
            if not approval.digest or approval.digest == digest:
                return approval
            log.error(
                "approval %s asked something else than this run asks now at step %d; superseding it",
                approval.id,
                self.step,
            )
            await self._cancel(approval.id, SUPERSEDED)
            attempt += 1

    def _hook(self, token: CancellationToken | None) -> None:
        """One callback per token for the whole run, however many approvals it asks: ``link_future`` would add
        one per wait, and a token never forgets its callbacks."""
        if token is None or any(hooked is token for hooked in self._hooked):
            return
        self._hooked.append(token)
        token.add_callback(self._on_cancel)

    def _on_cancel(self) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()

    async def _decision(self, approval: Approval, cancellation_token: CancellationToken | None) -> Approval | None:
        self._shown = None
        raise_if_cancelled()
        if approval.pending and not approval.ts:
            if self.before_post is not None:
                await self.before_post(approval, self._state)
            if not await self._post(approval):
                return None
        raise_if_cancelled()
        if _cancelled(cancellation_token):  # cancelled while the card was being posted: the card is updated
            raise asyncio.CancelledError
        self._waiting = asyncio.ensure_future(self.store.wait(approval.id))
        try:
            return await self._waiting
        except StoreClosed:  # the process is shutting down under this run: leave the approval pending
            self.detach()
            raise asyncio.CancelledError from None
        except UnknownApproval:
            log.warning("approval %s vanished from Redis while awaited; withdrawing its card", approval.id)
            shown = self._shown or (MessageRef(approval.channel, approval.ts) if approval.ts else None)
            if shown is not None:
                await self.poster.withdraw(approval, shown, lost=True)
            return replace(approval, state=State.CANCELLED, decider="", feedback="the approval record was lost")
        finally:
            self._waiting = None

    async def _post(self, approval: Approval) -> bool:
        """Show the approval; the poster records where (before anything else is posted). On failure, cancel it."""
        # A card revises the one before only when that one asked for a revision (an approved plan is followed
        # by its code cards, which revise nothing).
        last = self.decisions[-1] if self.decisions else None
        previous = last if last is not None and last.state is State.REVISED else None
        try:
            self._shown = await self.poster.post(approval, previous, look_first=self.resumed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not post the prompt of approval %s; cancelling it", approval.id)
            await self._cancel(approval.id, "the approval card could not be posted in full")
            return False
        return True

    async def _cancel(self, approval_id: str, why: str | None = None) -> None:
        try:
            await self.store.decide(approval_id, Outcome.CANCELLED, WORKFLOW_CANCELLED_BY, why)
        except AlreadyDecided:
            pass
        except Exception:
            log.exception("could not mark approval %s cancelled", approval_id)


def _cancelled(token: CancellationToken | None) -> bool:
    return token is not None and token.is_cancelled()


def reply_for(approval: Approval) -> str:
    """What the workflow reads: a verdict word first, so termination conditions need not read the model."""
    if approval.state is State.APPROVED:
        return format_reply(Verdict.APPROVE)
    if approval.state is State.REVISED:
        return format_reply(Verdict.REVISE, approval.feedback or "please revise")
    if approval.state is State.EXPIRED:
        return format_reply(Verdict.EXPIRED, "no decision before the deadline")
    return format_reply(Verdict.CANCEL, approval.feedback or f"cancelled by {approval.decider or 'someone'}")
