"""Replies in an approval card's thread: feedback for the agent after a Revise click (or when the bot is
mentioned), discussion otherwise. Only an approver's reply is sent; a non-approver is told once per card."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import Approval, ApprovalStore, Outcome
from bot.approvals.errors import ApprovalError
from bot.approvals.transitions import new_nonce
from bot.slack import blocks
from bot.slack.answers import UNAVAILABLE_TEXT, ephemeral, refusal
from bot.slack.approvers import Approvers
from bot.slack.names import UserNames
from bot.slack.patience import StoreUnavailable, patiently
from bot.slack.payloads import ThreadReply, feedback_text, mentioned_users, parse_thread_reply
from bot.slack.prompter import Prompter
from bot.slack.redelivery import Redeliveries
from bot.slack.threads import ThreadMarks


@dataclass
class ThreadReplies:
    store: ApprovalStore
    prompter: Prompter
    approvers: Approvers
    redeliveries: Redeliveries
    threads: ThreadMarks
    names: UserNames
    bot_user_id: str

    async def on_message(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        reply = parse_thread_reply(event)
        if reply is None or reply.channel != self.prompter.channel_id:
            return
        if not await self.redeliveries.first(body):
            return
        try:
            await self._on_reply(reply, client)
        except StoreUnavailable:
            await ephemeral(client, reply.channel, reply.user, UNAVAILABLE_TEXT, thread_ts=reply.thread_ts)

    async def _on_reply(self, reply: ThreadReply, client: AsyncWebClient) -> None:
        approval = await patiently(lambda: self.store.find_by_message(reply.channel, reply.thread_ts))
        if approval is None and reply.parent_user == self.bot_user_id:  # a card whose place is not recorded yet?
            approval_id = await self.prompter.approval_of_card(reply.channel, reply.thread_ts)
            approval = await patiently(lambda: self.store.get(approval_id)) if approval_id else None
        if approval is None:
            return  # a thread that is not an approval card's
        targets = await self._revised_by(approval, reply)
        if not targets:
            return  # people talking in the thread, not feedback
        if not await self.approvers.allows(reply.user):
            if approval.pending and await patiently(lambda: self.threads.first_telling(approval.id, reply.user)):
                text = blocks.non_approver_reply_text()
                await ephemeral(client, reply.channel, reply.user, text, thread_ts=reply.thread_ts)
            return
        names = await self.names.names(mentioned_users(reply.text) - {self.bot_user_id})
        feedback = feedback_text(reply, names, bot_user_id=self.bot_user_id)
        for target in targets:
            try:
                decide = partial(self.store.decide, target.id, Outcome.REVISED, reply.user, feedback, nonce=new_nonce())
                await patiently(decide)
            except ApprovalError as refused:
                text = refusal(refused) + " Your reply was not sent to the agent."
                await ephemeral(client, reply.channel, reply.user, text, thread_ts=reply.thread_ts)

    async def _revised_by(self, approval: Approval, reply: ThreadReply) -> list[Approval]:
        """What a reply in a card's thread revises: the approval whose Revise was clicked, or, when the reply
        mentions the bot, the card's approval (every call still pending on a card of several). Nothing when it
        is discussion."""
        addressed = reply.mentions(self.bot_user_id)
        members = []
        if approval.terms.kind == "tool":
            members = await patiently(lambda: self.prompter.card_members(reply.channel, reply.thread_ts))
        if not members:
            asked = addressed or await patiently(lambda: self.threads.revision_asked(approval.id))
            return [approval] if asked else []
        pending = [m for m in members if m.pending]
        asked_for = [m for m in pending if await patiently(partial(self.threads.revision_asked, m.id))]
        return asked_for or (pending if addressed else [])
