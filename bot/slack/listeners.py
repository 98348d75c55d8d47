"""Thin Bolt listeners: ack, parse, one engine call, one answer.

Every private answer is plain words (``blocks`` builds them); nothing here posts an exception's text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import AlreadyDecided, ApprovalStore, Outcome, UnknownApproval
from bot.approvals.errors import ApprovalError
from bot.runs import RunOutcome, StartWorkflow
from bot.slack import blocks
from bot.slack.payloads import Click, clicker, parse_click, parse_task, parse_thread_reply
from bot.slack.prompter import Prompter
from bot.slack.reports import not_an_approver_reply_text, outcome_report, started_text, unknown_workflow_text

log = logging.getLogger(__name__)

_OUTCOMES = {blocks.ACTION_APPROVE: Outcome.APPROVED, blocks.ACTION_CANCEL: Outcome.CANCELLED}


@dataclass
class Listeners:
    store: ApprovalStore
    prompter: Prompter
    start_workflow: StartWorkflow
    workflows: Mapping[str, str]
    """Workflow name -> one-line description; the first is the default."""
    is_approver: Callable[[str], bool]

    @property
    def default_workflow(self) -> str:
        return next(iter(self.workflows))

    async def on_agent_task(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        parsed = parse_task(str(command.get("text") or ""))
        if parsed is None:
            await ack(blocks.usage_text(self.workflows, default=self.default_workflow))
            return
        name = parsed.workflow or self.default_workflow
        if name not in self.workflows:
            await ack(unknown_workflow_text(name, self.workflows))
            return
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")

        async def report(outcome: RunOutcome) -> None:  # told where they typed the command
            await self._tell_requester(respond, user, channel, outcome)

        workflow_id = self.start_workflow(name, parsed.task, user, report)
        await ack(started_text(name, workflow_id, parsed.task, self.prompter.channel_id))

    async def on_decision(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = await self._approver_click(body, client)
        if click is None:
            return
        try:
            decided = await self.store.decide(click.approval_id, _OUTCOMES[click.action_id], click.user)
        except ApprovalError as refused:
            await _ephemeral(client, click.channel, click.user, _refusal(refused))
            return
        if not decided.ts:  # clicked before the bot had recorded where the card is: the click says where
            await self.store.attach_message(decided.id, click.channel, click.message_ts)
            await self.prompter.show_outcome(replace(decided, channel=click.channel, ts=click.message_ts))

    async def on_revise(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = await self._approver_click(body, client)
        if click is None:
            return
        approval = await self.store.get(click.approval_id)
        if approval is None:
            await _ephemeral(client, click.channel, click.user, blocks.unknown_approval_text())
        elif not approval.pending:
            await _ephemeral(client, click.channel, click.user, blocks.already_decided_text(approval))
        else:
            await self.prompter.say_in_thread(
                click.channel,
                click.message_ts,
                f"<@{click.user}> asked for changes. Reply in this thread with what should change: "
                "the first reply from an approver goes back to the agent.",
            )

    async def on_unknown_action(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        log.warning("unknown action %r ignored", _action_id(body))
        await self._answer_unknown(client, body)

    async def on_message(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        reply = parse_thread_reply(event)
        if reply is None or reply.channel != self.prompter.channel_id:
            return
        approval = await self.store.find_by_message(reply.channel, reply.thread_ts)
        if approval is None:
            return  # a thread that is not an approval card's
        if not self.is_approver(reply.user):
            if approval.pending:
                await _ephemeral(client, reply.channel, reply.user, not_an_approver_reply_text())
            return
        try:
            await self.store.decide(approval.id, Outcome.REVISED, reply.user, reply.text)
        except ApprovalError as refused:
            text = _refusal(refused) + " Your reply was not sent to the agent."
            await _ephemeral(client, reply.channel, reply.user, text)

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
                await _ephemeral(client, who[1], who[0], "Something went wrong on our side; nothing was recorded.")
        return BoltResponse(status=200, body="") if response is not None else None

    async def _approver_click(self, body: dict[str, Any], client: AsyncWebClient) -> Click | None:
        """The click, if it is a well-formed click by an approver; anyone else is answered privately."""
        click = parse_click(body)
        if click is None or not click.approval_id:
            await self._answer_unknown(client, body)
            return None
        if not self.is_approver(click.user):
            await _ephemeral(client, click.channel, click.user, blocks.not_an_approver_text())
            return None
        return click

    async def _answer_unknown(self, client: AsyncWebClient, body: dict[str, Any]) -> None:
        who = clicker(body)
        if who is not None:
            await _ephemeral(client, who[1], who[0], "That button is not one this bot knows; nothing was recorded.")

    async def _tell_requester(self, respond: AsyncRespond, user: str, channel: str, outcome: RunOutcome) -> None:
        text = outcome_report(outcome)
        try:
            response = await respond(text=text, response_type="ephemeral", replace_original=False)
            if response.status_code == 200:
                return
        except Exception as exc:  # the response_url may have expired (30 minutes) or be used up
            log.info("response_url unusable (%s); answering with chat.postEphemeral", type(exc).__name__)
        await _ephemeral(self.prompter.client, channel, user, text)


def _refusal(refused: ApprovalError) -> str:
    if isinstance(refused, AlreadyDecided):
        return blocks.already_decided_text(refused.approval)
    if isinstance(refused, UnknownApproval):
        return blocks.unknown_approval_text()
    return "That did not work; nothing was recorded."


def _action_id(body: dict[str, Any]) -> object:
    actions = body.get("actions") if isinstance(body, dict) else None
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return actions[0].get("action_id")
    return None


async def _ephemeral(client: AsyncWebClient, channel: str, user: str, text: str) -> None:
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as exc:
        log.warning("could not answer %s privately: %s", user, exc.response.get("error"))
