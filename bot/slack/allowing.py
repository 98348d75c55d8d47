"""Standing approvals from a tool-call card: "Approve, and allow this..." and Revoke (``bot.standing``).

Granting is an approval of this call like any other (the approver's click, bound to the version shown, refused
where the terms refuse it) whose feedback names the standing approval; only once that is recorded does the
standing approval exist, so a refused click grants nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import ApprovalError, Outcome
from bot.approvals.transitions import new_nonce
from bot.slack import blocks
from bot.slack.answers import UNAVAILABLE_TEXT, ephemeral, refusal
from bot.slack.listeners import Listeners
from bot.slack.patience import StoreUnavailable, patiently
from bot.standing import StandingApprovals, canonical_args_text, grant_feedback, new_id

log = logging.getLogger(__name__)


@dataclass
class Allowing:
    listeners: Listeners
    standings: StandingApprovals
    policy_digest: str
    """The digest of the policy this bot loaded: a standing approval applies under it only."""

    async def on_allow(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = await self.listeners.approver_click(body, client)
        if click is None or click.action_id not in blocks.ALLOW_ACTIONS:
            return
        scope, exact = blocks.ALLOW_ACTIONS[click.action_id]
        store = self.listeners.store
        try:
            approval = await patiently(lambda: store.get(click.approval_id))
            if approval is None or not blocks.offers_standing(approval):
                text = blocks.already_decided_text(approval) if approval else blocks.unknown_approval_text()
                await ephemeral(client, click.channel, click.user, text)
                return
            standing_id, nonce = new_id(), new_nonce()
            feedback = grant_feedback(standing_id)
            try:
                await patiently(
                    lambda: store.decide(
                        approval.id, Outcome.APPROVED, click.user, feedback, nonce=nonce, digest=click.digest
                    )
                )
            except ApprovalError as refused:
                await ephemeral(client, click.channel, click.user, refusal(refused))
                return
            standing = await patiently(
                lambda: self.standings.grant(
                    standing_id,
                    scope=scope,
                    exact=exact,
                    tool=approval.terms.tool,
                    args=canonical_args_text(approval.terms.args),
                    workflow_id=approval.workflow_id,
                    workflow=approval.workflow,
                    requester=approval.requester,
                    granted_by=click.user,
                    policy_digest=self.policy_digest,
                    approval_id=approval.id,
                )
            )
        except StoreUnavailable:
            await ephemeral(client, click.channel, click.user, UNAVAILABLE_TEXT)
            return
        log.info("standing approval %s granted by %s (%s, exact=%s)", standing.id, click.user, scope, exact)
        decided = await patiently(lambda: store.get(approval.id))
        if decided is not None:  # the card shows the grant (the transition's redraw may have run before it existed)
            await self.listeners.prompter.show_outcome(decided)

    async def on_revoke(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = await self.listeners.approver_click(body, client)
        if click is None:
            return
        try:
            revoked = await patiently(lambda: self.standings.revoke(click.approval_id, click.user))
            if revoked is None:
                text = "That standing approval is gone or was revoked already; nothing changed."
                await ephemeral(client, click.channel, click.user, text)
                return
            granting = await patiently(lambda: self.listeners.store.get(revoked.approval_id))
        except StoreUnavailable:
            await ephemeral(client, click.channel, click.user, UNAVAILABLE_TEXT)
            return
        log.info("standing approval %s revoked by %s", revoked.id, click.user)
        if granting is not None:
            await self.listeners.prompter.show_outcome(granting)
