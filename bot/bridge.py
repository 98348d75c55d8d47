"""Joins the approval engine to AutoGen: the input function that asks a human and waits for the answer.

Every call is one approval: created (idempotently, keyed by workflow id and step), shown to people through a
``PromptPoster``, awaited on Redis, and turned into a reply a workflow understands. Expiry, a lost record and a
prompt that could not be posted all take the safe default: the workflow is told to stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from autogen_core import CancellationToken

from bot import edits
from bot.approvals import (
    AlreadyDecided,
    Approval,
    ApprovalKey,
    ApprovalStore,
    Outcome,
    State,
    StoreClosed,
    Terms,
    UnknownApproval,
)
from bot.approvals.connection import raise_if_cancelled
from bot.approvals.policy import Action, Policy, Ruling
from bot.edits import EDITABLE_KINDS, Editable, Editables
from bot.logs import APPROVAL_ID
from bot.prompts import MessageRef, PromptPoster
from bot.rulings import decider_for, denial, digest_of, ruling_for, shown_text, terms_for
from bot.standing import DECIDER as STANDING
from bot.standing import Standing, StandingApprovals, canonical_args
from workflows.types import Ask, Verdict, edited, format_reply

log = logging.getLogger(__name__)

WORKFLOW_CANCELLED_BY = "workflow"
"""The decider recorded when the workflow itself is cancelled (not a Slack user)."""
SUPERSEDED = "superseded: the run now asks something else at this step, so this card decides nothing"
NOT_POSTED = "the approval card could not be posted in full"


@dataclass(frozen=True, slots=True)
class AskingRules:
    """How a bot asks, the same for every run it executes (its settings and shared stores)."""

    policy: Policy | None = None
    """The risk policy: a rule may answer a step (``auto``, ``deny``) instead of a person; None asks people."""
    self_approval: bool = True
    """Whether the requester may approve where the policy's rule says nothing (``SELF_APPROVAL``)."""
    max_revisions: int | None = None
    """``MAX_REVISIONS``: a Revise past this many in a row ends the run (None: no limit)."""
    editables: Editables | None = None
    """Where what people may edit of each request is kept for the Edit button (None: nothing is editable)."""
    standings: StandingApprovals | None = None
    """Standing approvals that may answer a tool call for a person (None: every call is asked)."""
    on_resumed: Callable[[Approval], None] | None = None
    """Told of each decision a wait returned (metrics: how long a decision took to resume its run)."""


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
    rules: AskingRules = field(default_factory=lambda: AskingRules())
    """How this bot asks (the same for every run)."""
    on_denied: Callable[[Approval, Ruling], Awaitable[None]] | None = None
    """Called when the policy refuses a step (the requester is told)."""
    _state: str = field(default="", init=False, repr=False)
    ask_again: int = 0
    """A step whose approval expired and that an approver asked again: it gets a new attempt on the same card."""
    _reuse: dict[str, MessageRef] = field(default_factory=dict, init=False, repr=False)
    """The card a new attempt of an expired step is shown on, by approval id."""
    _editable: dict[str, Editable] = field(default_factory=dict, init=False, repr=False)
    _shown: dict[str, MessageRef] = field(default_factory=dict, init=False, repr=False)
    """Where this process posted each approval's card."""
    _waiting: asyncio.Future[list[Approval]] | None = field(default=None, init=False, repr=False)
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
        """Ask one step (``workflows.types.Asking``): the policy's rule may answer it, else people do."""
        [reply] = await self.ask_many([request], cancellation_token)
        return reply

    async def ask_many(self, requests: Sequence[Ask], cancellation_token: CancellationToken | None = None) -> list[str]:
        """Ask one step per request, together (``workflows.types.AskingMany``: the calls of one model turn): the
        policy answers what it may, and people see the rest at once, on one card where they fit, deciding each
        on its own. Replies in the requests' order."""
        # One batch at a time, in the order asked (a lock is fair): steps are numbered in the order the run asks
        # them, so a resumed run asks its steps in the same order.
        async with self._one_at_a_time:
            self._hook(cancellation_token)
            if _cancelled(cancellation_token):
                raise asyncio.CancelledError  # nothing asked, nothing to post
            revision = len(self.decisions)
            steps: list[tuple[Ruling, Approval]] = []
            for request in requests:
                self.step += 1
                ruling = ruling_for(self.rules.policy, request)
                prompt = shown_text(request, ruling)
                terms = terms_for(request, ruling, self.rules.self_approval)
                approval = await self._ask(prompt, digest_of(request, prompt, revision), terms)
                if request.editable and request.kind in EDITABLE_KINDS:
                    self._editable[approval.id] = Editable(request.kind, request.tool, request.editable)
                steps.append((ruling, approval))
            replies: dict[int, str] = {}
            for index, (ruling, approval) in enumerate(steps):
                if ruling.action in (Action.AUTO, Action.DENY):
                    replies[index] = await self._by_policy(approval, ruling)
                elif approval.pending and (standing := await self._standing_for(requests[index], ruling)):
                    replies[index] = await self._by_standing(approval, standing)
            people = [index for index in range(len(steps)) if index not in replies]
            if people:
                decided = await self._by_people([steps[index][1] for index in people], cancellation_token)
                self.decisions.extend(decided)
                replies.update(zip(people, map(self._reply, decided), strict=True))
            return [replies[index] for index in range(len(steps))]

    def _reply(self, decided: Approval) -> str:
        """What the workflow reads of a person's decision; a revision past ``max_revisions`` ends the run."""
        if (
            decided.state is State.REVISED
            and decided.terms.kind != "tool"  # a tool call's Revise is feedback for the agent, not a new version
            and self.rules.max_revisions is not None
            and _revised_in_a_row(self.decisions) > self.rules.max_revisions
        ):
            log.info("run %s reached MAX_REVISIONS (%d); stopping it", self.workflow_id, self.rules.max_revisions)
            return format_reply(Verdict.CANCEL, f"no more revisions: MAX_REVISIONS is {self.rules.max_revisions}")
        return reply_for(decided)

    async def _by_people(self, approvals: list[Approval], token: CancellationToken | None) -> list[Approval]:
        """Show ``approvals`` to people and wait for every decision. A card that could not be posted cancels its
        approvals (the reply says so)."""
        try:
            if _cancelled(token):  # cancelled while the approvals were being created: post no card
                raise asyncio.CancelledError
            if not await self._show(approvals):
                return [replace(a, state=State.CANCELLED, decider="", feedback=NOT_POSTED) for a in approvals]
            raise_if_cancelled()
            if _cancelled(token):  # cancelled while the card was being posted: the card is updated
                raise asyncio.CancelledError
            self._waiting = asyncio.gather(*(self._await(approval) for approval in approvals))
            return await self._waiting
        except asyncio.CancelledError:
            # A cancelled workflow cancels its approvals. A process shutting down leaves them pending: their cards
            # keep working, and a restarted run re-attaches to them (creation is idempotent).
            if _cancelled(token) and not self.detached:
                await asyncio.shield(asyncio.gather(*(self._cancel(approval.id) for approval in approvals)))
            raise
        finally:
            self._waiting = None

    async def _standing_for(self, request: Ask, ruling: Ruling) -> Standing | None:
        """A standing approval that answers this tool call for a person (only where one person would decide)."""
        if (
            self.rules.standings is None
            or ruling.action is not Action.ASK
            or request.kind != "tool"
            or request.always_ask
        ):
            return None
        return await self.rules.standings.find(
            tool=request.tool,
            args=canonical_args(request.args),
            workflow_id=self.workflow_id,
            workflow=self.workflow,
            requester=self.requester,
            policy_digest=self.rules.policy.digest if self.rules.policy is not None else "",
        )

    async def _by_standing(self, approval: Approval, standing: Standing) -> str:
        """A call a standing approval covers: decided (and audited) as ``standing:<id>``; no card."""
        try:
            decided = await self.store.decide(approval.id, Outcome.APPROVED, f"{STANDING}:{standing.id}")
        except AlreadyDecided as exc:
            decided = exc.approval
        await self.store.mark_shown(decided.id, decided.state)
        log.info("step %d of %s approved by standing approval %s", decided.step, self.workflow_id, standing.id)
        self.decisions.append(decided)
        return reply_for(decided)

    async def _by_policy(self, approval: Approval, ruling: Ruling) -> str:
        """A step the policy answers: recorded (and audited) as decided by ``policy:<rule>``; no card."""
        outcome, why = (Outcome.APPROVED, None) if ruling.action is Action.AUTO else (Outcome.CANCELLED, denial(ruling))
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
            "step %d of %s answered by policy rule %s: %s", decided.step, self.workflow_id, ruling.rule, decided.state
        )
        self.decisions.append(decided)
        return reply_for(decided)

    async def _ask(self, prompt: str, digest: str, terms: Terms) -> Approval:
        """The approval of this step: created, or re-attached if it asks exactly what was asked before (same
        digest). A run that now asks something else at this step (a changed workflow, a model that answered
        differently) must not get the old answer: the old approval is superseded, loudly, and a new one made."""
        attempt = 0
        while True:
            key = ApprovalKey(self.workflow_id, self.step, attempt)
            APPROVAL_ID.set(key.approval_id)  # the run's lines from here name the approval it asks
            approval = await self.store.create(
                key,
                prompt=prompt,
                requester=self.requester,
                workflow=self.workflow,
                timeout_s=self.timeout_s,
                digest=digest,
                terms=terms,
            )
            if approval.state is State.EXPIRED and self.step == self.ask_again:
                # Asked again after it expired: a new attempt of this step, with a new deadline, on the same card.
                card = MessageRef(approval.channel, approval.ts) if approval.ts else None
                attempt += 1
                if card is not None:
                    self._reuse[ApprovalKey(self.workflow_id, self.step, attempt).approval_id] = card
                continue
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

    async def _show(self, approvals: list[Approval]) -> bool:
        """Post the card(s) of those still pending without one (a resumed run may find them posted already: the
        poster looks first), each step's checkpoint recorded before. False (approvals cancelled) on failure."""
        unposted = [approval for approval in approvals if approval.pending and not approval.ts]
        if not unposted:
            return True
        if self.before_post is not None:
            for approval in unposted:
                await self.before_post(approval, self._state)
        if self.rules.editables is not None:
            for approval in unposted:
                if (editable := self._editable.get(approval.id)) is not None:
                    await self.rules.editables.put(approval.id, editable)
        raise_if_cancelled()
        try:
            if len(approvals) == 1:
                # A card revises the one before only when that one asked for a revision (an approved plan is
                # followed by its code cards, which revise nothing).
                last = self.decisions[-1] if self.decisions else None
                previous = last if last is not None and last.state is State.REVISED else None
                first = approvals[0]
                reuse = self._reuse.get(first.id)
                self._shown[first.id] = await self.poster.post(first, previous, look_first=self.resumed, reuse=reuse)
            else:
                self._shown.update(await self.poster.post_many(approvals, look_first=self.resumed))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not post the card of approval(s) %s; cancelling", ", ".join(a.id for a in unposted))
            for approval in unposted:
                await self._cancel(approval.id, NOT_POSTED)
            return False
        return True

    async def _await(self, approval: Approval) -> Approval:
        """The decision of ``approval``; a vanished record withdraws its card and counts as cancelled."""
        APPROVAL_ID.set(approval.id)  # gather runs each wait in a task of its own: this names it in its log lines
        try:
            decided = await self.store.wait(approval.id)
            if self.rules.on_resumed is not None:
                self.rules.on_resumed(decided)
            return decided
        except StoreClosed:  # the process is shutting down under this run: leave the approval pending
            self.detach()
            raise asyncio.CancelledError from None
        except UnknownApproval:
            log.warning("approval %s vanished from Redis while awaited; withdrawing its card", approval.id)
            shown = self._shown.get(approval.id) or (MessageRef(approval.channel, approval.ts) if approval.ts else None)
            if shown is not None:
                await self.poster.withdraw(approval, shown, lost=True)
            return replace(approval, state=State.CANCELLED, decider="", feedback="the approval record was lost")

    async def _cancel(self, approval_id: str, why: str | None = None) -> None:
        try:
            await self.store.decide(approval_id, Outcome.CANCELLED, WORKFLOW_CANCELLED_BY, why)
        except AlreadyDecided:
            pass
        except Exception:
            log.exception("could not mark approval %s cancelled", approval_id)


def _revised_in_a_row(decisions: Sequence[Approval]) -> int:
    count = 0
    for decision in reversed(decisions):
        if decision.state is not State.REVISED:
            break
        count += 1
    return count


def _cancelled(token: CancellationToken | None) -> bool:
    return token is not None and token.is_cancelled()


def reply_for(approval: Approval) -> str:
    """What the workflow reads: a verdict word first, so termination conditions need not read the model. An
    approval with edits hands over the edited version (``workflows.types.edited``)."""
    if approval.state is State.APPROVED:
        change = edits.decode(approval.feedback)
        return edited(approval.decider, change.edited) if change is not None else format_reply(Verdict.APPROVE)
    if approval.state is State.REVISED:
        return format_reply(Verdict.REVISE, approval.feedback or "please revise")
    if approval.state is State.EXPIRED:
        return format_reply(Verdict.EXPIRED, "no decision before the deadline")
    return format_reply(Verdict.CANCEL, approval.feedback or f"cancelled by {approval.decider or 'someone'}")
