"""Posts approval cards to the approvals channel and keeps them up to date.

``post`` is the engine's prompt poster. ``show_outcome`` is registered as the store's transition listener, so
every decision or expiry this process records (a click, a thread reply, a cancelled workflow, the sweeper)
updates the card the same way. Updates to one message are coalesced: while one ``chat.update`` is in flight,
newer versions replace each other and only the latest is sent, which keeps bursts within Slack's rate tiers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import Approval, ApprovalKey, ApprovalStore, State
from bot.prompts import MessageRef
from bot.slack import blocks

log = logging.getLogger(__name__)


class Prompter:
    def __init__(self, client: AsyncWebClient, store: ApprovalStore, channel_id: str, workspace_url: str = "") -> None:
        self.client = client
        self._store = store
        self.channel_id = channel_id
        self.workspace_url = workspace_url
        """The workspace's address (auth.test ``url``), for links between a card and its revision."""
        self._latest: dict[tuple[str, str], tuple[str, list[dict[str, Any]]]] = {}
        self._senders: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def post(self, approval: Approval, previous: Approval | None) -> MessageRef:
        response = await self.client.chat_postMessage(
            channel=self.channel_id,
            text=blocks.prompt_text(approval),
            blocks=blocks.prompt_blocks(approval, previous=previous, workspace_url=self.workspace_url),
            unfurl_links=False,
            unfurl_media=False,
        )
        ref = MessageRef(str(response["channel"]), str(response["ts"]))
        for chunk in blocks.prompt_overflow(approval):
            await self.client.chat_postMessage(channel=ref.channel, thread_ts=ref.ts, text=chunk)
        if previous is not None and previous.channel and previous.ts:
            await self._link_revision(previous, ref)
        return ref

    async def _link_revision(self, previous: Approval, ref: MessageRef) -> None:
        """Tell the previous card's thread where its revision is (best effort: the new card is what matters)."""
        where = "below in the channel"
        if self.workspace_url:
            where = f"<{blocks.message_link(self.workspace_url, ref.channel, ref.ts)}|here>"
        try:
            await self.client.chat_postMessage(
                channel=previous.channel, thread_ts=previous.ts, text=f"The agent posted its revision {where}."
            )
        except SlackApiError as exc:
            log.warning("could not link revision %s from its previous card: %s", ref.ts, exc.response.get("error"))

    async def show_outcome(self, approval: Approval) -> None:
        """Replace the card's buttons with the outcome (transition listener of the store)."""
        if approval.pending or not approval.channel or not approval.ts:
            return
        previous = await self._previous(approval)
        self.update(
            approval.channel,
            approval.ts,
            blocks.decision_text(approval),
            blocks.decided_blocks(approval, previous=previous, workspace_url=self.workspace_url),
        )

    async def say_in_thread(self, channel: str, ts: str, text: str) -> None:
        await self.client.chat_postMessage(channel=channel, thread_ts=ts, text=text)

    def update(self, channel: str, ts: str, text: str, card: list[dict[str, Any]]) -> None:
        """Schedule ``chat.update``; of several updates to one message, only the latest still waiting is sent."""
        key = (channel, ts)
        self._latest[key] = (text, card)
        if key not in self._senders:
            self._senders[key] = asyncio.create_task(self._send(key), name=f"card-update-{ts}")

    async def flush(self) -> None:
        """Wait until every scheduled update has been sent (or has failed and been logged)."""
        while self._senders:
            await asyncio.gather(*self._senders.values(), return_exceptions=True)

    async def aclose(self) -> None:
        try:
            await asyncio.wait_for(self.flush(), 10)
        except TimeoutError:
            for task in self._senders.values():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._senders.values(), return_exceptions=True)

    async def _send(self, key: tuple[str, str]) -> None:
        try:
            while key in self._latest:
                text, card = self._latest.pop(key)
                try:
                    await self.client.chat_update(channel=key[0], ts=key[1], text=text, blocks=card)
                except SlackApiError as exc:
                    log.warning("could not update card %s: %s", key[1], exc.response.get("error"))
                except Exception:
                    log.exception("could not update card %s", key[1])
        finally:
            del self._senders[key]

    async def _previous(self, approval: Approval) -> Approval | None:
        if approval.step == 0:
            return None
        previous = await self._store.get(ApprovalKey(approval.workflow_id, approval.step - 1).approval_id)
        return previous if previous is not None and previous.state is State.REVISED else None
