"""Card updates, coalesced: while one ``chat.update`` of a message is in flight, newer versions replace each other
and only the latest is sent, which keeps bursts within Slack's rate tiers. Once Slack has taken an update, the
approvals it shows are marked as shown (``ApprovalStore.mark_shown``), so the reconciler stops re-reporting them;
a failed update is logged and left for the reconciler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import Approval, ApprovalStore

log = logging.getLogger(__name__)


class CardUpdates:
    def __init__(self, client: AsyncWebClient, store: ApprovalStore) -> None:
        self._client = client
        self._store = store
        self._latest: dict[tuple[str, str], tuple[str, list[dict[str, Any]], Sequence[Approval]]] = {}
        self._senders: dict[tuple[str, str], asyncio.Task[None]] = {}

    def update(
        self, channel: str, ts: str, text: str, card: list[dict[str, Any]], *, shows: Sequence[Approval] = ()
    ) -> None:
        """Schedule ``chat.update``; of several updates to one message, only the latest still waiting is sent.
        ``shows`` are the approvals whose outcome the update shows, recorded once Slack has taken it."""
        key = (channel, ts)
        self._latest[key] = (text, card, shows)
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
                text, card, shows = self._latest.pop(key)
                try:
                    await self._client.chat_update(channel=key[0], ts=key[1], text=text, blocks=card)
                except SlackApiError as exc:  # the reconciler tries again: the card is not marked as shown
                    log.warning("could not update card %s: %s", key[1], exc.response.get("error"))
                    continue
                except Exception:
                    log.exception("could not update card %s", key[1])
                    continue
                for approval in shows:
                    await self._mark_shown(approval)
        finally:
            del self._senders[key]

    async def _mark_shown(self, approval: Approval) -> None:
        try:
            await self._store.mark_shown(approval.id, approval.state)
        except (RedisError, OSError) as exc:  # the reconciler will update the card once more: harmless
            log.warning("could not record that card %s shows %s: %s", approval.ts, approval.state, exc)
