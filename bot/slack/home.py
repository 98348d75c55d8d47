"""The App Home tab: published when a person opens it, refreshed for the people a decision concerns, and the
Home's own answers (a notice at the top) and its Revise modal.

A click in Home has no channel, so nothing can be answered ephemerally there: refusals are shown by publishing the
clicker's Home again with a notice. Revise opens a modal asking for the feedback (there is no thread in Home to
reply in, and a link away would lose the person's place); its submission is the revision, bound to the version the
person saw. Who opened Home lately is kept in Redis (``Visitors``), so whichever replica records a decision can
refresh exactly the Homes it concerns: the requester's and the approvers' who opened theirs, nobody else's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import Approval, ApprovalError, ApprovalStore, Outcome, keys
from bot.approvals.audit import latest_audit
from bot.approvals.listing import pending_approvals
from bot.approvals.transitions import new_nonce
from bot.prompts import MessageRef
from bot.slack import blocks
from bot.slack.approvers import Approvers
from bot.slack.blocks import home as home_blocks
from bot.slack.patience import StoreUnavailable, patiently

log = logging.getLogger(__name__)

Permalink = Callable[[MessageRef], Awaitable[str]]
OPENED_TTL_S = 24 * 3600.0
"""How long a person who opened Home keeps getting refreshes (each opening sends app_home_opened again)."""
PENDING_READ = 200
SUBMIT_PATIENCE_S = 1.5
"""How long the Revise modal's submission waits for Redis: its answer must reach Slack within 3 s."""
UNAVAILABLE_TEXT = "The approval store is not answering, so this list may be out of date. Open Home again soon."


class Visitors:
    """Who opened Home lately: one sorted set, each person scored by when their entry lapses; the key has a TTL."""

    def __init__(
        self, redis: aioredis.Redis, ttl_s: float = OPENED_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._clock = clock
        self.key = f"{keys.PREFIX}:home:opened"

    async def visited(self, user: str) -> None:
        now_ms = int(self._clock() * 1000)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(self.key, {user: now_ms + self._ttl_ms})
        pipe.zremrangebyscore(self.key, "-inf", now_ms)
        pipe.pexpire(self.key, self._ttl_ms)
        await pipe.execute()

    async def recent(self) -> list[str]:
        now_ms = int(self._clock() * 1000)
        found = await self._redis.zrangebyscore(self.key, now_ms, "+inf")
        return [member.decode() if isinstance(member, bytes) else str(member) for member in found]


@dataclass
class HomeTab:
    store: ApprovalStore
    approvers: Approvers
    client: AsyncWebClient
    permalink: Permalink
    """A card's permalink (chat.getPermalink, with the built link as fallback: ``RequesterLine.permalink``)."""
    refusal: Callable[[ApprovalError], str]
    """The plain words for an engine refusal (the listeners' own)."""
    visitors: Visitors
    _links: dict[str, str] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # --- listeners --------------------------------------------------------------------------------------------

    async def on_app_home_opened(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return  # the Messages tab: the DMs the bot sends are there already
        try:
            await patiently(lambda: self.visitors.visited(user))
        except StoreUnavailable:
            log.warning("could not record that %s opened Home", user)
        await self.publish(user)

    async def on_feedback_submit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The Revise modal's submission: the revision, with its feedback, of the version the person saw."""
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        found = home_blocks.feedback_of(view or {})
        user = str((body.get("user") or {}).get("id") or "")
        if found is None or not user:
            await ack(response_action="errors", errors={home_blocks.FEEDBACK_BLOCK: "Say what should change."})
            return
        approval_id, digest, feedback = found
        problem = await self._revise(approval_id, digest, feedback, user)
        if problem is not None:
            await ack(response_action="errors", errors={home_blocks.FEEDBACK_BLOCK: problem})
            return
        await ack()

    async def _revise(self, approval_id: str, digest: str, feedback: str, user: str) -> str | None:
        if not await self.approvers.allows(user):
            return blocks.not_an_approver_text()
        nonce = new_nonce()
        try:
            await patiently(
                lambda: self.store.decide(approval_id, Outcome.REVISED, user, feedback, nonce=nonce, digest=digest),
                patience_s=SUBMIT_PATIENCE_S,
            )
        except ApprovalError as refused:
            return self.refusal(refused) + " Your feedback was not sent to the agent."
        except StoreUnavailable:
            return "The approval store is not answering; nothing was recorded. Try again in a minute."
        log.info("approval %s revised from Home by %s", approval_id, user)
        return None

    # --- what the click listeners use -------------------------------------------------------------------------

    async def tell(self, user: str, text: str) -> None:
        """Answer a click made in Home: its Home again, with ``text`` (mrkdwn from ``blocks``) at the top."""
        await self.publish(user, notice=text)

    async def ask_feedback(self, trigger_id: str, approval: Approval, digest: str, user: str) -> None:
        """Revise clicked in Home: the modal asking what should change (the click's trigger, within 3 s)."""
        try:
            await self.client.views_open(trigger_id=trigger_id, view=home_blocks.feedback_view(approval, digest))
        except SlackApiError as exc:
            log.warning("could not open the Revise modal of %s: %s", approval.id, exc.response.get("error"))
            await self.tell(user, "I could not open the feedback form; click Revise again.")

    # --- publishing -------------------------------------------------------------------------------------------

    async def publish(self, user: str, notice: str | None = None) -> None:
        """Publish ``user``'s Home as the engine has it now; failures are logged, never raised. One person's Homes
        are read and published one at a time, so an older read never overwrites a newer one (in this process)."""
        lock = self._locks.setdefault(user, asyncio.Lock())
        async with lock:
            try:
                view = await self._view(user, notice)
            except StoreUnavailable:
                view = home_blocks.home_view([], [], [], approver=False, notice=UNAVAILABLE_TEXT)
            try:
                await self.client.views_publish(user_id=user, view=view)
            except SlackApiError as exc:
                log.warning("could not publish the Home of %s: %s", user, exc.response.get("error"))
            except (OSError, TimeoutError) as exc:
                log.warning("could not publish the Home of %s: %s", user, type(exc).__name__)
        if not lock.locked() and len(self._locks) > 1000:
            self._locks.pop(user, None)

    async def _view(self, user: str, notice: str | None) -> dict[str, Any]:
        redis = self.store.redis
        approver = await self.approvers.allows(user)
        pending = await patiently(lambda: pending_approvals(redis, limit=PENDING_READ))
        entries = await patiently(lambda: latest_audit(redis))
        mine = [a for a in pending if approver and may_decide(user, a)]
        shown = mine[: home_blocks.MAX_WAITING]
        waiting = [home_blocks.Waiting(a, await self._link(a)) for a in shown]
        return home_blocks.home_view(
            waiting,
            home_blocks.request_lines(entries, user, [a.id for a in pending]),
            home_blocks.decision_lines(entries, user),
            approver=approver,
            notice=notice,
            more=len(mine) - len(shown),
        )

    async def _link(self, approval: Approval) -> str:
        key = f"{approval.channel}:{approval.ts}"
        if key not in self._links:
            if len(self._links) > 1000:
                self._links.clear()
            self._links[key] = await self.permalink(MessageRef(approval.channel, approval.ts))
        return self._links[key]

    # --- refreshing -------------------------------------------------------------------------------------------

    async def on_transition(self, approval: Approval) -> None:
        """A decision (or expiry) was recorded: refresh, in the background, the Homes it concerns."""
        self.refresh(approval)

    async def card_posted(self, approval: Approval, ref: MessageRef) -> None:
        """A new card (a revision, the next step) waits now: refresh the Homes it concerns."""
        self.refresh(approval)

    def refresh(self, approval: Approval) -> None:
        task = asyncio.create_task(self._refresh(approval), name=f"home-refresh-{approval.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, approval: Approval) -> None:
        try:
            opened = await patiently(self.visitors.recent)
        except StoreUnavailable:
            log.warning("could not read who opened Home; no Home refreshed for %s", approval.id)
            return
        concerned = {approval.requester, approval.decider, *approval.approved_by}
        for user in opened:
            if user in concerned or await self.approvers.allows(user):
                await self.publish(user)

    async def flush(self) -> None:
        """Wait for the refreshes under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def may_decide(user: str, approval: Approval) -> bool:
    """Whether ``approval`` waits for ``user`` (an approver): the engine's own rules, so Home offers no button the
    engine would refuse: its card is posted, it is not their own request where self-approval is off, and they have
    not approved it already (a quorum needs different people)."""
    if not approval.pending or not approval.ts:
        return False
    if user == approval.requester and not approval.terms.self_approval:
        return False
    return user not in approval.approved_by
