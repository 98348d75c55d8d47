"""Thin Bolt listeners: ack, parse, one engine call, one answer.

Every listener acks first, before any Redis call (Slack shows the person an error after 3 s); redelivery
de-duplication and the engine call come after, bounded in time. Every private answer is plain words (``blocks``
builds them); nothing here posts an exception's text.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import (
    AlreadyDecided,
    Approval,
    ApprovalStore,
    Outcome,
    StaleVersion,
    State,
)
from bot.approvals.errors import ApprovalError
from bot.approvals.transitions import new_nonce
from bot.logs import APPROVAL_ID, RUN_ID
from bot.runs import RunRequest, StartRun
from bot.slack import blocks
from bot.slack.answers import UNAVAILABLE_TEXT, UNKNOWN_BUTTON_TEXT, ephemeral, refusal
from bot.slack.approvers import Approvers
from bot.slack.home import HomeTab
from bot.slack.names import UserNames
from bot.slack.patience import StoreUnavailable, patiently
from bot.slack.payloads import (
    Click,
    clicker,
    parse_click,
    parse_task,
)
from bot.slack.prompter import Prompter
from bot.slack.redelivery import Redeliveries
from bot.slack.replies import ThreadReplies
from bot.slack.threads import ThreadMarks

log = logging.getLogger(__name__)

Reopen = Callable[[str, int], Awaitable[str]]
"""(workflow id, step) -> ``ok`` when the expired run was queued to ask that step again, else why not."""

_OUTCOMES = {blocks.ACTION_APPROVE: Outcome.APPROVED, blocks.ACTION_CANCEL: Outcome.CANCELLED}


@dataclass
class Listeners:
    store: ApprovalStore
    prompter: Prompter
    start_run: StartRun
    workflows: Mapping[str, str]
    """Workflow name -> one-line description; the first is the default."""
    approvers: Approvers
    redeliveries: Redeliveries
    threads: ThreadMarks
    names: UserNames
    bot_user_id: str
    reopen: Reopen | None = None
    """Queues a run that expired at a step to ask that step again ("Ask again"); None: never."""
    home: HomeTab | None = None
    """The App Home: where clicks made in Home are answered (they have no channel); None: no Home tab."""

    def __post_init__(self) -> None:
        self.replies = ThreadReplies(
            self.store, self.prompter, self.approvers, self.redeliveries, self.threads, self.names, self.bot_user_id
        )

    @property
    def default_workflow(self) -> str:
        return next(iter(self.workflows))

    # --- /agent-task ------------------------------------------------------------------------------------------

    async def on_agent_task(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        parsed = parse_task(str(command.get("text") or ""), self.workflows)
        if parsed is None:
            await ack(blocks.usage_text(self.workflows, default=self.default_workflow))
            return
        name = parsed.workflow or self.default_workflow
        workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
        await ack(blocks.started_text(name, workflow_id, parsed.task, self.prompter.channel_id))
        if not await self.redeliveries.first(command):
            return
        run = RunRequest(
            workflow_id=workflow_id,
            workflow=name,
            task=parsed.task,
            requester=str(command.get("user_id") or ""),
            channel=str(command.get("channel_id") or ""),
            response_url=str(command.get("response_url") or ""),
            issued_ms=int(time.time() * 1000),
        )
        try:
            await patiently(lambda: self.start_run(run))
        except StoreUnavailable:
            await respond(text=blocks.not_started_text(), response_type="ephemeral", replace_original=True)

    # --- clicks -----------------------------------------------------------------------------------------------

    async def on_decision(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = await self.approver_click(body, client)
        if click is None:
            return
        try:
            refused = await self._decide(click, click.approval_id, _OUTCOMES[click.action_id], click.digest)
        except StoreUnavailable:
            refused = UNAVAILABLE_TEXT
        if refused is not None:
            await self.answer(client, click.channel, click.user, refused)

    async def on_approve_all(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """ "Approve all" on a card of several calls: approves each call still pending, as one click on each."""
        await ack()
        click = await self.approver_click(body, client)
        if click is None:
            return
        refusals: list[str] = []
        try:
            members = await patiently(lambda: self.prompter.card_members(click.channel, click.message_ts))
            called = {m.id: f"Call {number} (`{m.terms.tool}`)" for number, m in enumerate(members, start=1)}
            for approval_id, digest in click.targets:  # exactly the calls the card showed as pending
                if refused := await self._decide(click, approval_id, Outcome.APPROVED, digest):
                    refusals.append(f"{called.get(approval_id, approval_id)}: {refused}")
        except StoreUnavailable:
            refusals.append(UNAVAILABLE_TEXT)
        if refusals:
            await self.answer(client, click.channel, click.user, blocks.approve_all_refused_text(refusals))

    async def _decide(self, click: Click, approval_id: str, outcome: Outcome, digest: str) -> str | None:
        """Record ``click.user``'s decision on ``approval_id`` as shown (``digest``); None when it counted, else
        the private answer."""
        nonce = new_nonce()  # one nonce: every retry is the same decision
        APPROVAL_ID.set(approval_id)  # this click's log lines name the approval and its run
        RUN_ID.set(approval_id.rsplit(".", 1)[0])
        try:
            decided = await patiently(
                lambda: self.store.decide(approval_id, outcome, click.user, nonce=nonce, digest=digest)
            )
        except AlreadyDecided as refused:
            if refused.approval.terms.kind == "tool":  # a card of several calls may show an older version: redraw
                await self.prompter.show_outcome(refused.approval)
            return refusal(refused)
        except ApprovalError as refused:
            return refusal(refused)
        if not decided.ts and not click.in_home:  # clicked before the card's place was recorded: the click says
            await patiently(lambda: self.store.attach_message(decided.id, click.channel, click.message_ts))
            decided = replace(decided, channel=click.channel, ts=click.message_ts)
            await self.prompter.show_outcome(decided)
        elif decided.pending:  # one of the approvals a quorum needs: the card (and Home) show the progress
            await self.prompter.show_outcome(decided)
        if decided.pending and self.home is not None:  # no transition is reported for it: refresh Home here
            self.home.refresh(decided)
        return None

    async def on_ask_again(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """ "Ask again" on an expired card: its run picks the step up again, as a new attempt on the same card."""
        await ack()
        click = await self.approver_click(body, client)
        if click is None:
            return
        try:
            approval = await patiently(lambda: self.store.get(click.approval_id))
            if approval is None or approval.state is not State.EXPIRED or self.reopen is None:
                text = blocks.already_decided_text(approval) if approval else blocks.unknown_approval_text()
                await self.answer(client, click.channel, click.user, text)
                return
            reopen = self.reopen
            status = await patiently(lambda: reopen(approval.workflow_id, approval.step))
        except StoreUnavailable:
            await self.answer(client, click.channel, click.user, UNAVAILABLE_TEXT)
            return
        if status == "ok":
            log.info("approval %s asked again by %s", approval.id, click.user)
            try:
                await patiently(lambda: self.store.note(approval.id, "asked_again", click.user))
            except StoreUnavailable:
                log.error("could not audit that %s asked approval %s again", click.user, approval.id)
        await self.answer(client, click.channel, click.user, blocks.ask_again_text(status))

    async def on_revise(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = await self.approver_click(body, client)
        if click is None:
            return
        try:
            approval = await patiently(lambda: self.store.get(click.approval_id))
            if approval is None or not approval.pending or not approval.digest.startswith(click.digest):
                text = refusal(StaleVersion(approval)) if approval and approval.pending else None
                text = text or (blocks.already_decided_text(approval) if approval else blocks.unknown_approval_text())
                await self.answer(client, click.channel, click.user, text)
                return
            if click.in_home:  # no thread to reply in: a modal asks for the feedback
                await self._ask_feedback(body, approval, click, client)
                return
            asked_by = await patiently(lambda: self.threads.ask_revision(approval.id, click.user))
        except StoreUnavailable:
            await self.answer(client, click.channel, click.user, UNAVAILABLE_TEXT)
            return
        if asked_by is not None:
            await self.answer(client, click.channel, click.user, blocks.revise_already_asked_text(asked_by))
            return
        what = ""
        if approval.terms.kind == "tool":
            members = await patiently(lambda: self.prompter.card_members(click.channel, click.message_ts))
            numbers = [number for number, m in enumerate(members, start=1) if m.id == approval.id]
            what = f"call {numbers[0]} (`{approval.terms.tool}`)" if numbers else ""
        text = blocks.revise_request_text(click.user, bot_user=self.bot_user_id, what=what)
        await self.prompter.say_in_thread(click.channel, click.message_ts, text)

    async def _ask_feedback(
        self, body: dict[str, Any], approval: Approval, click: Click, client: AsyncWebClient
    ) -> None:
        trigger = body.get("trigger_id")
        if self.home is None or not isinstance(trigger, str) or not trigger:
            await self._answer_unknown(client, body)
            return
        await self.home.ask_feedback(trigger, approval, click.digest, click.user)

    async def on_unknown_action(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        log.warning("unknown action %r ignored", _action_id(body))
        await self._answer_unknown(client, body)

    # --- thread replies ---------------------------------------------------------------------------------------

    async def on_message(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        await self.replies.on_message(event, body, client)

    # --- errors -----------------------------------------------------------------------------------------------

    async def on_malformed(self, body: dict[str, Any]) -> None:
        """A click Bolt cannot dispatch (the Socket Mode handler acked it): answer the clicker privately."""
        await self._answer_unknown(self.prompter.client, body)

    async def on_error(
        self, error: Exception, body: dict[str, Any], client: AsyncWebClient, response: BoltResponse | None
    ) -> BoltResponse | None:
        """Every request is acknowledged, so Slack neither retries it nor shows the person an error.

        Bolt passes no ``response`` for a failure after ``ack()``: the ack is already sent, nothing to return.
        """
        kind = body.get("type") if isinstance(body, dict) else None
        if isinstance(error, BoltUnhandledRequestError):
            log.warning("ignored a request no listener handles (type %r)", kind)
        else:
            log.error("failed to handle a request (type %r)", kind, exc_info=error)
            who = clicker(body) if isinstance(body, dict) else None
            if who is not None:
                text = "Something went wrong on our side; your click may not have been recorded."
                await self.answer(client, who[1], who[0], text)
        return BoltResponse(status=200, body="") if response is not None else None

    # --- helpers ----------------------------------------------------------------------------------------------

    async def approver_click(self, body: dict[str, Any], client: AsyncWebClient) -> Click | None:
        """The click, if it is a first delivery of a well-formed click by an approver; anyone else is answered
        privately."""
        click = parse_click(body)
        if click is None or not click.approval_id:
            await self._answer_unknown(client, body)
            return None
        if not await self.redeliveries.first(body):
            return None
        if not await self.approvers.allows(click.user):
            await self.answer(client, click.channel, click.user, blocks.not_an_approver_text())
            return None
        return click

    async def answer(self, client: AsyncWebClient, channel: str, user: str, text: str) -> None:
        """Answer a click privately: ephemerally in its channel, or on the clicker's Home for a click made there
        (no channel: chat.postEphemeral has nowhere to go)."""
        if channel:
            await ephemeral(client, channel, user, text)
        elif self.home is not None:
            await self.home.tell(user, text)
        else:
            log.warning("cannot answer %s: a click with no channel and no App Home", user)

    async def _answer_unknown(self, client: AsyncWebClient, body: dict[str, Any]) -> None:
        who = clicker(body)
        if who is not None:
            await self.answer(client, who[1], who[0], UNKNOWN_BUTTON_TEXT)


def _action_id(body: dict[str, Any]) -> object:
    actions = body.get("actions") if isinstance(body, dict) else None
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return actions[0].get("action_id")
    return None
