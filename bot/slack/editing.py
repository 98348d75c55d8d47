"""Edit before approve: the Edit button opens a modal with what may be edited; its submission, once it passes
every check, is the editor's approval of the edited version.

A submission is answered inside Slack's 3 s with the modal's own errors (``response_action: errors``) and nothing
recorded, when: the request is gone, decided, or not the version the person saw; the editor may not decide; the
text is unchanged; a tool call's arguments are not a JSON object fitting the tool; or the policy would not let one
person approve the edited version. The edit is judged by the policy as if the agent had proposed it, and never
more leniently than the original: the stricter of the two rules applies, so an edit cannot move a call into a
weaker rule. A rule that needs two approvers, or refuses, cannot be met by an edit (its editor is one person).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import edits
from bot.approvals import Approval, ApprovalError, ApprovalStore, Outcome
from bot.approvals.policy import Action, Policy, Request
from bot.approvals.transitions import new_nonce
from bot.edits import Edit, Editable, Editables
from bot.slack import blocks
from bot.slack.approvers import Approvers
from bot.slack.patience import StoreUnavailable, patiently
from bot.slack.payloads import parse_click
from bot.slack.redelivery import Redeliveries

log = logging.getLogger(__name__)

ArgsCheck = Callable[[str, Mapping[str, Any]], str | None]
"""A tool's name and edited arguments -> why they do not fit the tool, or None (given by the workflows)."""

_STRICTNESS = {Action.AUTO: 0, Action.ASK: 1, Action.ASK_TWO: 2, Action.DENY: 3}


class EditRefused(Exception):
    """Why a submitted edit is not recorded, in plain words for the modal."""


@dataclass
class Editing:
    store: ApprovalStore
    editables: Editables
    approvers: Approvers
    policy: Policy | None
    check_args: ArgsCheck
    refusal: Callable[[ApprovalError], str]
    """The plain words for an engine refusal (the listeners' own)."""
    say: Callable[[AsyncWebClient, str, str, str], Any]
    """Answers a person privately: (client, channel, user, text)."""
    redeliveries: Redeliveries | None = None
    """Drops a click delivered twice (its trigger id can open one modal only); None: every delivery is handled."""

    async def on_edit(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = parse_click(body)
        trigger = body.get("trigger_id")
        if click is None or not click.approval_id or not isinstance(trigger, str):
            return
        if self.redeliveries is not None and not await self.redeliveries.first(body):
            return
        try:
            approval, editable = await self._editable(click.approval_id, click.digest, click.user)
        except EditRefused as refused:
            await self.say(client, click.channel, click.user, str(refused))
            return
        if blocks.slack_len(editable.content) > blocks.MAX_EDIT_CHARS:  # Slack counts UTF-16 units
            text = "This is too long to edit in Slack (3000 characters at most); ask for a revision instead."
            await self.say(client, click.channel, click.user, text)
            return
        view = blocks.edit_view(approval, editable.content, channel=click.channel, ts=click.message_ts)
        try:
            await client.views_open(trigger_id=trigger, view=view)
        except SlackApiError as exc:
            log.warning("could not open the edit modal of %s: %s", approval.id, exc.response.get("error"))
            await self.say(client, click.channel, click.user, "I could not open the editor; click Edit again.")

    async def on_edit_submit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        meta, content = blocks.edit_metadata(view or {}), blocks.edited_content(view or {})
        user = str((body.get("user") or {}).get("id") or "")
        try:
            if meta is None or content is None or not user:
                raise EditRefused("This form is not one this bot knows; nothing was recorded.")
            await self._approve_edit(meta, content, user)
        except EditRefused as refused:
            await ack(response_action="errors", errors={blocks.EDIT_BLOCK: str(refused)})
            return
        except StoreUnavailable:
            text = "The approval store is not answering; nothing was recorded. Try again in a minute."
            await ack(response_action="errors", errors={blocks.EDIT_BLOCK: text})
            return
        await ack()

    async def _approve_edit(self, meta: dict[str, str], content: str, user: str) -> None:
        approval, editable = await self._editable(meta["approval_id"], meta["digest"], user)
        if editable.kind == "tool":
            edited = self._call(editable, content)
            original = Request("tool", "", editable.tool, json.loads(editable.content))
            unchanged = edited.args == original.args  # the same arguments, however they are laid out
        else:
            edited, original = Request(editable.kind, content), Request(editable.kind, editable.content)
            unchanged = content.strip() == editable.content.strip()
        if unchanged:
            raise EditRefused("Nothing was changed. Close this and use Approve on the card instead.")
        self._allowed(original, edited)
        change = edits.encode(Edit(editable.content, content))
        nonce = new_nonce()
        try:
            await patiently(
                lambda: self.store.decide(
                    approval.id, Outcome.APPROVED, user, change, nonce=nonce, digest=meta["digest"]
                )
            )
        except ApprovalError as refused:
            raise EditRefused(self.refusal(refused)) from None
        log.info("approval %s approved with edits by %s", approval.id, user)

    async def _editable(self, approval_id: str, digest: str, user: str) -> tuple[Approval, Editable]:
        if not await self.approvers.allows(user):
            raise EditRefused(blocks.not_an_approver_text())
        approval = await patiently(lambda: self.store.get(approval_id))
        if approval is None:
            raise EditRefused(blocks.unknown_approval_text())
        if not approval.pending:
            raise EditRefused(blocks.already_decided_text(approval))
        if not approval.digest.startswith(digest):
            raise EditRefused(blocks.stale_version_text())
        editable = await patiently(lambda: self.editables.get(approval_id))
        if editable is None or not blocks.editable(approval):
            raise EditRefused("This request cannot be edited here; approve it, ask for a revision, or cancel it.")
        return approval, editable

    def _call(self, editable: Editable, content: str) -> Request:
        """The edited tool call, if its arguments are a JSON object that fits the tool."""
        try:
            args = json.loads(content)
        except ValueError as exc:
            raise EditRefused(f"That is not valid JSON: {exc}.") from None
        if not isinstance(args, dict):
            raise EditRefused("The arguments must be a JSON object ({...}).")
        if (problem := self.check_args(editable.tool, args)) is not None:
            raise EditRefused(f"These arguments do not fit {editable.tool}: {problem}")
        return Request("tool", "", editable.tool, args)

    def _allowed(self, original: Request, edited: Request) -> None:
        """The stricter of the two rules must let the editor alone approve."""
        if self.policy is None:
            return
        rulings = [self.policy.rule_for(original), self.policy.rule_for(edited)]
        strictest = max(rulings, key=lambda ruling: _STRICTNESS[ruling.action])
        if strictest.action is Action.DENY:
            raise EditRefused(f"The policy refuses this (rule {strictest.rule}); nothing was recorded.")
        if strictest.action is Action.ASK_TWO:
            raise EditRefused(
                f"Under the policy rule {strictest.rule} this needs two different approvers, and an edit is approved"
                " by its editor alone. Ask for a revision instead."
            )
