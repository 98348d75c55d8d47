"""Sends the reminders and escalations the engine hands this replica (``bot.approvals.reminders``).

Every ``POLL_S`` the loop claims the due entries (one replica gets each) and sends them side by side: a reminder
in the card's thread mentioning its approvers, an escalation with a permalink to the card (``chat.getPermalink``)
to ``ESCALATE_TO``: a channel (``chat.postMessage`` there; the bot must be in it), a person (a DM:
``conversations.open``, scope ``im:write``, then ``chat.postMessage``) or a user group (a message in the approvals
channel mentioning ``<!subteam^S…>``). A sent one is ended and audited; one Slack refuses (``not_in_channel``,
``channel_not_found``, ``user_not_found``...) is ended and audited as failed; one that met a rate limit past its
send time, a network fault or a Redis fault stays claimed, so it is sent again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.connection import TRANSIENT
from bot.approvals.reminders import Claim, Reminders
from bot.config import USER_ID, USERGROUP_ID
from bot.prompts import MessageRef
from bot.slack.blocks.reminders import escalation_text, reminder_text, still_to_decide
from bot.slack.posting import ChannelPoster, PostFailed

log = logging.getLogger(__name__)

POLL_S = 0.5
SEND_S = 20.0
"""How long one send may wait out rate limits and faults (well within the claim's lease)."""
DONE_TRIES = 3


Permalink = Callable[[MessageRef], Awaitable[str]]
"""The card's permalink (``RequesterLine.permalink``: ``chat.getPermalink``, else built; "" if neither can be)."""


class Refused(Exception):
    """Slack refused a reminder or escalation for good (its error code is the message)."""


class Reminding:
    def __init__(
        self,
        client: AsyncWebClient,
        reminders: Reminders,
        permalink: Permalink,
        *,
        post_client: AsyncWebClient | None = None,
        approvers: Sequence[str] = (),
        escalate_to: str | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        """``client`` for lookups (it may retry on its own); ``post_client`` (no retry handlers, as
        ``posting.ChannelPoster`` wants) for the messages."""
        self._client = client
        self._reminders = reminders
        self._poster = ChannelPoster(post_client or client)
        self._approvers = list(approvers)
        self._escalate_to = escalate_to
        self._permalink = permalink
        self._poll_s = poll_s
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="reminders")

    async def aclose(self, grace_s: float = 0.3) -> None:
        """Stop polling; the sends under way get ``grace_s`` to finish, then are cancelled (their entries stay
        claimed and are sent again by a replica when the lease runs out)."""
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await asyncio.shield(task)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run_round(self) -> int:
        """Claim what is due and send it; how many were claimed."""
        claims = await self._reminders.claim_due()
        if claims:
            await asyncio.gather(*(self._send(claim) for claim in claims))
        return len(claims)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_round()
            except TRANSIENT as exc:
                log.warning("reminders skipped a round: %s", type(exc).__name__)
            except Exception:
                log.exception("reminders round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._stop.wait()

    async def _send(self, claim: Claim) -> None:
        what = "reminder" if claim.kind == "remind" else "escalation"
        try:
            detail = await (self._remind(claim) if claim.kind == "remind" else self._escalate(claim))
        except Refused as exc:
            log.error("Slack refused the %s of approval %s: %s", what, claim.first.id, exc)
            await self._end(claim, sent=False, detail=f"Slack refused it: {exc}")
            return
        except (PostFailed, SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("%s of approval %s not sent yet (%s); it is tried again", what, claim.first.id, exc)
            return
        log.info("sent the %s of approval %s (%s)", what, claim.first.id, detail)
        await self._end(claim, sent=True, detail=detail)

    async def _end(self, claim: Claim, *, sent: bool, detail: str) -> None:
        for attempt in range(DONE_TRIES):
            try:
                await self._reminders.done(claim, sent=sent, detail=detail)
                return
            except (RedisError, OSError) as exc:
                if attempt == DONE_TRIES - 1:
                    log.error("could not record the %s of approval %s: %s", claim.kind, claim.first.id, exc)
                    return
                await asyncio.sleep(0.1 * 2**attempt)

    async def _remind(self, claim: Claim) -> str:
        card = claim.first
        who = still_to_decide(self._approvers, claim.approvals)
        await self._post(channel=card.channel, thread_ts=card.ts, text=reminder_text(claim.approvals, who))
        return f"mentioned {', '.join(who)}" if who else "anyone may decide: nobody mentioned"

    async def _escalate(self, claim: Claim) -> str:
        target = self._escalate_to
        if target is None:
            raise Refused("ESCALATE_TO is not set on this replica")
        card = claim.first
        waited_s = time.time() - card.created_ms / 1000
        permalink = await self._permalink(MessageRef(card.channel, card.ts))
        if USERGROUP_ID.match(target):
            text = escalation_text(claim.approvals, permalink, waited_s=waited_s, group=target)
            await self._post(channel=card.channel, text=text)
            return f"to user group {target} in {card.channel}"
        text = escalation_text(claim.approvals, permalink, waited_s=waited_s)
        channel = await self._dm(target) if USER_ID.match(target) else target
        await self._post(channel=channel, text=text)
        return f"to {target}"

    async def _post(self, *, channel: str, text: str, thread_ts: str | None = None) -> None:
        message: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        try:
            await self._poster.post(deadline=time.time() + SEND_S, **message)
        except PostFailed as exc:
            if isinstance(exc.__cause__, SlackApiError):
                raise Refused(str(exc)) from exc
            raise

    async def _dm(self, user: str) -> str:
        try:
            opened = await self._client.conversations_open(users=user)
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                raise
            raise Refused(str(exc.response.get("error"))) from exc
        return str(opened["channel"]["id"])
