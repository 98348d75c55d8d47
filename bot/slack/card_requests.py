"""Posts the cards that askers outside the bot requested (``bot.approvals.card_stream``), one replica per card.

Every replica runs one consumer in the stream's one consumer group. For each request it reads the record, claims
the posting (atomically, on the record: a pending approval without a card, one replica at a time), posts the normal
card through the ``Prompter`` and acknowledges the request once the card is recorded. From there the card is like
any other: the listeners decide it, the store's transition listener redraws it, the sweeper expires it and the
reconciler re-reports what a card does not show yet.

A replica gives up an attempt it could not finish within most of ``CARD_LEASE`` (Slack rate-limiting it, say) and
leaves the request pending; when the lease lapses another replica (or this one) takes the request over and, before
posting, looks in the channel for a card the first attempt may have posted (the card's metadata names its
approval), so a request is never shown on two cards. A card Slack refuses outright cancels the approval, saying
why, so the asker learns at once instead of at the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Collection

from bot.approvals import AlreadyDecided, Approval, ApprovalStore, Outcome
from bot.approvals.card_stream import CardRequest, CardStream, Claim
from bot.approvals.connection import TRANSIENT
from bot.approvals.requests import EXTERNAL
from bot.approvals.tasks import stop
from bot.logs import APPROVAL_ID
from bot.slack.posting import PostFailed
from bot.slack.prompter import Prompter

log = logging.getLogger(__name__)

DECIDER = "bot"
"""Who is recorded as cancelling a request whose card could not be posted."""
NOT_POSTED = "the approval card could not be posted"
GIVE_UP_SHARE = 0.8
"""Of ``CARD_LEASE``: how long one attempt to post may take (the posting claim lasts longer: ``card_stream``)."""
_BACKOFF_CAP_S = 5.0


def consumer_name() -> str:
    """This process's name in the consumer group: unique, so a restarted replica never inherits a dead one's."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class CardRequestConsumer:
    def __init__(
        self, store: ApprovalStore, prompter: Prompter, cards: CardStream, *, channels: Collection[str]
    ) -> None:
        """``channels``: how the approvals channel may be named in a request (its ID, ``APPROVALS_CHANNEL``)."""
        self._store = store
        self._prompter = prompter
        self._cards = cards
        self._channels = frozenset(channels) | {prompter.channel_id}
        self.name = consumer_name()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        await self._cards.join()
        self._task = asyncio.create_task(self._run(), name="card-requests")
        log.info("posting cards asked for from outside as %s", self.name)

    async def aclose(self) -> None:
        """Stop taking requests; one being posted is left pending (another replica takes it over)."""
        self._stopping = True  # redis-py can swallow a cancellation (see connection.raise_if_cancelled)
        await stop(self._task)
        self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_takeover, backoff = 0.0, 0.1
        while not self._stopping:
            try:
                found: list[CardRequest] = []
                if loop.time() >= next_takeover:
                    found += await self._cards.take_over(self.name)
                    next_takeover = loop.time() + self._cards.lease_s / 4
                if not found:
                    found = await self._cards.take(self.name, block_s=1.0)
                for request in found:
                    if self._stopping:
                        return
                    await self.handle(request)
                backoff = 0.1
            except TRANSIENT as exc:
                log.warning("card requests: Redis unavailable (%s); retrying in %.1f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP_S)
            except Exception:
                log.exception("card requests: unexpected failure; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP_S)

    async def handle(self, request: CardRequest) -> None:
        """Post the card ``request`` asks for, unless there is nothing (left) to post; ack it when done."""
        APPROVAL_ID.set(request.approval_id)
        approval = await self._store.get(request.approval_id) if request.approval_id else None
        if approval is None or not approval.pending or approval.ts or approval.workflow != EXTERNAL:
            # gone, decided, its card is up, or a run's (its run posts it): nothing to post here
            log.debug("card request %s: nothing to post for %s", request.entry_id, request.approval_id)
            await self._cards.done(request)
            return
        if request.channel and request.channel not in self._channels:
            log.warning(
                "approval %s asks for channel %s; this bot posts approvals elsewhere", approval.id, request.channel
            )
            await self._cancel(
                approval, f"it asked for the channel {request.channel}, where this bot posts no approvals"
            )
            await self._cards.done(request)
            return
        claim = await self._cards.claim(approval.id, self.name)
        log.debug("card request %s for %s: %s", request.entry_id, approval.id, claim)
        if claim not in (Claim.CLAIMED, Claim.TAKEN_OVER):
            # Nothing to post, or another replica is posting it: that one holds its own request for it, un-acked
            # until the card is recorded, so if it dies that request is taken over; this one is a duplicate.
            await self._cards.done(request)
            return
        try:
            async with asyncio.timeout(self._cards.lease_s * GIVE_UP_SHARE):
                await self._prompter.post(approval, None, look_first=claim is Claim.TAKEN_OVER)
        except TimeoutError:
            log.warning("could not post the card of %s within the lease; it will be tried again", approval.id)
            return
        except PostFailed as exc:
            log.error("Slack refused the card of %s (%s); cancelling it", approval.id, exc)
            await self._cancel(approval, NOT_POSTED)
        else:
            log.info("posted the card of %s, asked for from outside", approval.id)
        await self._cards.done(request)

    async def _cancel(self, approval: Approval, why: str) -> None:
        with contextlib.suppress(AlreadyDecided):
            await self._store.decide(approval.id, Outcome.CANCELLED, DECIDER, why)
