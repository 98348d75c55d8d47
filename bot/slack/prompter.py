"""Posts approval cards to the approvals channel and keeps them up to date.

``post`` is the engine's prompt poster. ``show_outcome`` is registered as the store's transition listener, so
every decision or expiry this process records (a click, a thread reply, a cancelled workflow, the sweeper)
updates the card the same way (coalesced: ``bot.slack.updates``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import Approval, ApprovalKey, ApprovalStore, State, UnknownApproval
from bot.approvals.reminders import Reminders
from bot.prompts import MessageRef
from bot.slack import blocks
from bot.slack.cards import CardGroups
from bot.slack.posting import ChannelPoster, PostFailed, card_metadata
from bot.slack.updates import CardUpdates
from bot.standing import Standing, StandingApprovals, granted

log = logging.getLogger(__name__)

CardPosted = Callable[[Approval, MessageRef], Awaitable[None]]
"""Told of every card once it is posted and recorded (the requester's "started" answer links to it)."""

ATTACH_PATIENCE_S = 60.0
"""How long recording where a card is may wait for Redis before the card is withdrawn."""


class Prompter:
    def __init__(
        self,
        client: AsyncWebClient,
        store: ApprovalStore,
        channel_id: str,
        workspace_url: str = "",
        *,
        card_client: AsyncWebClient | None = None,
        approvers: Sequence[str] = (),
        mention_approvers: bool = True,
        groups: CardGroups | None = None,
        max_revisions: int | None = None,
        ask_again_s: float = 0,
        standings: StandingApprovals | None = None,
        reminders: Reminders | None = None,
    ) -> None:
        self.client = client
        self._store = store
        self.channel_id = channel_id
        self.workspace_url = workspace_url
        """The workspace's address (auth.test ``url``), for links between a card and its revision."""
        self.approvers = list(approvers)
        self.mention_approvers = mention_approvers
        self.max_revisions = max_revisions
        self.ask_again_s = ask_again_s
        self.standings = standings
        """Standing approvals: offered on tool-call cards, and shown (with Revoke) once granted; None: never."""
        """``ASK_AGAIN_WINDOW``: an expired card offers "Ask again" when above 0."""
        """``MAX_REVISIONS``, shown on revised cards; None shows no limit."""
        self._poster = ChannelPoster(card_client or client)
        self._groups = groups or CardGroups(store.redis, store.settings.retention_s)
        self.on_posted: CardPosted | None = None
        self._updates = CardUpdates(client, store)
        self._reminders = reminders
        """``REMIND_AFTER``/``ESCALATE_AFTER``: each card is scheduled once it is recorded; None: never."""

    async def post(
        self,
        approval: Approval,
        previous: Approval | None,
        *,
        look_first: bool = False,
        reuse: MessageRef | None = None,
    ) -> MessageRef:
        """Post the card (or, with ``look_first``, find the one posted before; with ``reuse``, turn that card into
        this one), record where it is, then its thread overflow and the link from the card it revises."""
        deadline = approval.deadline_ms / 1000
        card = blocks.prompt_blocks(
            approval,
            previous=previous,
            workspace_url=self.workspace_url,
            approvers=self.approvers,
            mention=self.mention_approvers,
            revision=await self._revision_number(previous),
            max_revisions=self.max_revisions,
            extra=self._allow(approval, "approval_allow"),
        )
        text = blocks.prompt_text(approval, approvers=self.approvers, mention=self.mention_approvers)
        metadata = card_metadata(approval.id, approval.created_ms)
        ref = await self._ask_again_on(reuse, text, card, metadata) if reuse is not None else None
        if ref is None:
            response = await self._poster.post(
                deadline=deadline,
                channel=self.channel_id,
                text=text,
                blocks=card,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
                look_first=look_first,
            )
            ref = MessageRef(str(response["channel"]), str(response["ts"]))
        await self._attach(approval, ref)
        await self._schedule([approval.id])
        for chunk in blocks.prompt_overflow(approval):
            await self._poster.post(deadline=deadline, channel=ref.channel, thread_ts=ref.ts, text=chunk)
        if previous is not None and previous.channel and previous.ts:
            await self._link_revision(previous, ref, deadline)
        await self._announce(approval, ref)
        return ref

    async def _announce(self, approval: Approval, ref: MessageRef) -> None:
        if self.on_posted is not None:
            try:
                await self.on_posted(approval, ref)
            except Exception:
                log.exception("could not announce the card of approval %s", approval.id)

    async def _ask_again_on(
        self, card: MessageRef, text: str, blocks_: list[dict[str, Any]], metadata: dict[str, Any]
    ) -> MessageRef | None:
        """Turn the expired card at ``card`` into the new attempt's; None if Slack will not (a new card then)."""
        try:
            await self.client.chat_update(
                channel=card.channel, ts=card.ts, text=text, blocks=blocks_, metadata=metadata
            )
        except SlackApiError as exc:
            log.warning("could not ask again on card %s (%s); posting a new one", card.ts, exc.response.get("error"))
            return None
        return card

    async def post_many(self, approvals: Sequence[Approval], *, look_first: bool = False) -> dict[str, MessageRef]:
        """Post the calls of one turn on as few cards as show each in full (``blocks.fits_one_card``); a card
        whose pending calls are all posted already is not posted again. Says where each approval's card is."""
        refs: dict[str, MessageRef] = {}
        for chunk in _chunks(approvals):
            posted = [a for a in chunk if a.ts]
            if posted and not any(a.pending and not a.ts for a in chunk):
                refs.update({a.id: MessageRef(posted[0].channel, posted[0].ts) for a in chunk})
            elif len(chunk) == 1:
                refs[chunk[0].id] = await self.post(chunk[0], None, look_first=look_first)
            else:
                ref = await self._post_calls(chunk, look_first=look_first)
                refs.update({a.id: ref for a in chunk})
        return refs

    async def _post_calls(self, approvals: Sequence[Approval], *, look_first: bool) -> MessageRef:
        first = approvals[0]
        response = await self._poster.post(
            deadline=min(a.deadline_ms for a in approvals) / 1000,
            channel=self.channel_id,
            text=blocks.calls_text(approvals),
            blocks=blocks.calls_blocks(
                approvals, approvers=self.approvers, mention=self.mention_approvers, timebox_s=self._timebox_s
            ),
            metadata=card_metadata(first.id, first.created_ms),
            unfurl_links=False,
            unfurl_media=False,
            look_first=look_first,
        )
        ref = MessageRef(str(response["channel"]), str(response["ts"]))
        # The card's members before any of them is attached: a decision shown from then on redraws the whole card.
        await self._groups.remember(ref, [a.id for a in approvals])
        for approval in approvals:
            await self._attach(approval, ref)
        await self._schedule([a.id for a in approvals])
        await self._announce(first, ref)
        return ref

    async def card_members(self, channel: str, ts: str) -> list[Approval]:
        """The approvals on the card at (``channel``, ``ts``) if it shows several calls, in its order; []
        for a card of its own."""
        found = [await self._store.get(approval_id) for approval_id in await self._groups.members(channel, ts)]
        return [approval for approval in found if approval is not None]

    async def _attach(self, approval: Approval, ref: MessageRef) -> None:
        """Record where the card is, through Redis blips; if that cannot be done, withdraw the card (its buttons
        would decide nothing anyone reads) and fail, so the run is told."""
        patience = min(ATTACH_PATIENCE_S, max(1.0, approval.deadline_ms / 1000 - time.time()))
        try:
            await self._store.attach_message(approval.id, ref.channel, ref.ts, retry_for_s=patience)
            return
        except UnknownApproval:
            log.error("approval %s vanished before its card %s was recorded", approval.id, ref.ts)
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("could not record card %s of approval %s: %s", ref.ts, approval.id, type(exc).__name__)
        await self.withdraw(approval, ref)
        raise PostFailed(f"could not record where the card of approval {approval.id} is")

    async def _schedule(self, approval_ids: list[str]) -> None:
        """The card's reminder and escalation (best effort: the card is what matters, and it is recorded)."""
        if self._reminders is None:
            return
        try:
            await self._reminders.schedule(approval_ids)
        except (RedisError, OSError) as exc:
            log.error("could not schedule the reminders of approval %s: %s", approval_ids[0], type(exc).__name__)

    async def withdraw(self, approval: Approval, ref: MessageRef, *, lost: bool = False) -> None:
        """Replace the card with one without buttons that says why (``lost``: its record vanished); best effort."""
        note = blocks.LOST_NOTE if lost else blocks.WITHDRAWN_NOTE
        try:
            await self.client.chat_update(
                channel=ref.channel,
                ts=ref.ts,
                text=blocks.withdrawn_text(approval, note),
                blocks=blocks.withdrawn_blocks(approval, note),
            )
        except SlackApiError as exc:
            log.error("could not withdraw card %s: %s", ref.ts, exc.response.get("error"))
        except (OSError, TimeoutError) as exc:
            log.error("could not withdraw card %s: %s", ref.ts, type(exc).__name__)

    async def _link_revision(self, previous: Approval, ref: MessageRef, deadline: float) -> None:
        """Tell the previous card's thread where its revision is (best effort: the new card is what matters)."""
        where = "below in the channel"
        if self.workspace_url:
            where = f"<{blocks.message_link(self.workspace_url, ref.channel, ref.ts)}|here>"
        try:
            await self._poster.post(
                deadline=deadline,
                channel=previous.channel,
                thread_ts=previous.ts,
                text=f"The agent posted its revision {where}.",
            )
        except PostFailed as exc:
            log.warning("could not link revision %s from its previous card: %s", ref.ts, exc)

    async def approval_of_card(self, channel: str, ts: str) -> str | None:
        """The approval id in the metadata of the card at (``channel``, ``ts``): for a reply that arrives before
        the card's place was recorded. None when it is not a card or Slack cannot say."""
        try:
            return await self._poster.card_at(channel, ts)
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.warning("could not read card %s: %s", ts, type(exc).__name__)
            return None

    async def say_in_thread(self, channel: str, ts: str, text: str) -> None:
        await self._poster.post(deadline=time.time() + 60, channel=channel, thread_ts=ts, text=text)

    async def show_outcome(self, approval: Approval) -> None:
        """Redraw the card for ``approval``'s state (transition listener of the store, and of its reconciler:
        the card is marked as showing the outcome only once Slack has taken the update): a decision replaces the
        buttons with the outcome, a quorum's approval so far shows its progress, and a card of several calls is
        redrawn whole."""
        if not approval.channel or not approval.ts:
            return
        if approval.terms.kind == "tool":
            members = [
                approval if m.id == approval.id else m for m in await self.card_members(approval.channel, approval.ts)
            ]
            if len(members) > 1:
                granted = {m.id: st for m in members if (st := await self._standing_of(m)) is not None}
                card = blocks.calls_blocks(
                    members,
                    approvers=self.approvers,
                    mention=self.mention_approvers,
                    timebox_s=self._timebox_s,
                    standing=granted,
                )
                shown = [m for m in members if not m.pending]
                self.update(approval.channel, approval.ts, blocks.calls_text(members), card, shows=shown)
                return
        previous = await self._previous(approval)
        revision = await self._revision_number(previous)
        if approval.pending:  # a quorum's progress
            card = blocks.prompt_blocks(
                approval,
                previous=previous,
                workspace_url=self.workspace_url,
                approvers=self.approvers,
                mention=self.mention_approvers,
                revision=revision,
                max_revisions=self.max_revisions,
                extra=self._allow(approval, "approval_allow"),
            )
            self.update(approval.channel, approval.ts, blocks.prompt_text(approval, mention=False), card)
            return
        card = blocks.decided_blocks(
            approval,
            previous=previous,
            workspace_url=self.workspace_url,
            revision=revision,
            max_revisions=self.max_revisions,
            ask_again_s=self.ask_again_s,
            extra=blocks.standing_blocks(approval, await self._standing_of(approval), "approval_standing"),
        )
        self.update(approval.channel, approval.ts, blocks.decision_text(approval), card, shows=[approval])

    def update(
        self, channel: str, ts: str, text: str, card: list[dict[str, Any]], *, shows: Sequence[Approval] = ()
    ) -> None:
        """Schedule ``chat.update`` of a card (coalesced: ``bot.slack.updates``)."""
        self._updates.update(channel, ts, text, card, shows=shows)

    async def flush(self) -> None:
        await self._updates.flush()

    async def aclose(self) -> None:
        await self._updates.aclose()

    @property
    def _timebox_s(self) -> float:
        return self.standings.timebox_s if self.standings is not None else 0

    def _allow(self, approval: Approval, block_id: str) -> list[Block]:
        return blocks.allow_actions(approval, block_id, self._timebox_s)

    async def _standing_of(self, approval: Approval) -> Standing | None:
        """The standing approval ``approval`` granted, if it granted one."""
        standing_id = granted(approval.feedback) if approval.state is State.APPROVED else None
        if standing_id is None or self.standings is None:
            return None
        return await self.standings.get(standing_id)

    async def _previous(self, approval: Approval) -> Approval | None:
        """The approval the one before ``approval`` in its run, if a revision of it was asked for."""
        if approval.step <= 1:
            return None
        previous = await self._store.get(ApprovalKey(approval.workflow_id, approval.step - 1).approval_id)
        return previous if previous is not None and previous.state is State.REVISED else None

    async def _revision_number(self, previous: Approval | None) -> int:
        """Which revision the card after ``previous`` is: one more than the revisions asked for in a row before
        ``previous`` (the bridge counts the same way against ``MAX_REVISIONS``)."""
        number = 0
        while previous is not None:
            number += 1
            previous = await self._previous(previous)
        return number


def _chunks(approvals: Sequence[Approval]) -> list[list[Approval]]:
    """The calls in order, cut into runs that each fit one card (a call that fits nowhere alone is a run of one)."""
    chunks: list[list[Approval]] = []
    for approval in approvals:
        if chunks and blocks.fits_one_card([*chunks[-1], approval]):
            chunks[-1].append(approval)
        else:
            chunks.append([approval])
    return chunks
