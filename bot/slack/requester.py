"""Telling the person who typed ``/agent-task`` what happened, for as long as their run lasts.

A slash command's ``response_url`` works "up to 5 times within 30 minutes" (docs.slack.dev/interactivity/
handling-user-interaction); runs wait on people for longer than that, and an ephemeral in a channel the bot is not
in fails (``not_in_channel``). So the requester is answered through the response_url while it is usable, and
otherwise by DM (``conversations.open``, scope ``im:write``), with a permalink to the card.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.approvals import Approval
from bot.prompts import MessageRef
from bot.runs import RunOutcome, RunRequest
from bot.slack import blocks

log = logging.getLogger(__name__)

RESPONSE_URL_LIFETIME_S = 30 * 60
RESPONSE_URL_USES = 5
_MARGIN_S = 60.0
"""A response_url this close to its end is not used: a message sent at the last second may arrive after it."""


@dataclass
class Requester:
    """One run's requester: who, where they typed the command, and their response_url's budget."""

    user: str
    channel: str
    respond: AsyncWebhookClient | None
    issued_at: float
    """When Slack issued the response_url, in epoch seconds (any replica may be the one telling)."""
    uses: int = 0
    task: str = ""
    card: MessageRef | None = None
    card_link: str = ""

    def response_url_usable(self, now: float) -> bool:
        fresh = now - self.issued_at < RESPONSE_URL_LIFETIME_S - _MARGIN_S
        return self.respond is not None and fresh and self.uses < RESPONSE_URL_USES


class RequesterLine:
    """Implements ``bot.runs.Notices`` for the runs this replica executes: the requester's response_url budget
    is kept per run here (a run resumed elsewhere starts counting afresh; Slack's ``used_url`` then sends the
    rest by DM)."""

    def __init__(
        self,
        client: AsyncWebClient,
        workspace_url: str,
        *,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """``session``: the process's HTTP session, so a response_url post reuses its connections."""
        self._client = client
        self._session = session
        self._workspace_url = workspace_url
        self._clock = clock
        self._requesters: dict[str, Requester] = {}

    def requester(self, run: RunRequest) -> Requester:
        found = self._requesters.get(run.workflow_id)
        if found is None:
            respond = AsyncWebhookClient(run.response_url, session=self._session) if run.response_url else None
            found = Requester(run.requester, run.channel, respond, run.issued_ms / 1000, task=run.task)
            self._requesters[run.workflow_id] = found
        return found

    async def card_posted(self, run: RunRequest, approval: Approval, ref: MessageRef) -> None:
        """The run's first card exists: the requester's "started" answer now links to it."""
        requester = self.requester(run)
        if requester.card is not None:
            return
        link = await self.link(requester, ref)
        text = blocks.started_text(run.workflow, run.workflow_id, "", approval.channel or ref.channel, card_link=link)
        await self.replace(requester, text)

    async def denied(self, run: RunRequest, approval: Approval, rule: str) -> None:
        """The risk policy refused a step of the run: the requester hears of it now, not only at the end."""
        await self.tell(self.requester(run), [blocks.denied_text(run.workflow, run.workflow_id, approval, rule)])

    async def finished(self, run: RunRequest, outcome: RunOutcome) -> None:
        requester = self.requester(run)
        self._requesters.pop(run.workflow_id, None)
        await self.tell(requester, blocks.outcome_report(outcome))

    async def link(self, requester: Requester, ref: MessageRef) -> str:
        """A permalink to the card (``chat.getPermalink``), remembered on ``requester``."""
        if requester.card != ref or not requester.card_link:
            requester.card = ref
            requester.card_link = await self.permalink(ref)
        return requester.card_link

    async def permalink(self, ref: MessageRef) -> str:
        try:
            answer = await self._client.chat_getPermalink(channel=ref.channel, message_ts=ref.ts)
            return str(answer["permalink"])
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError, KeyError) as exc:
            log.info("no permalink for %s (%s); building it", ref.ts, type(exc).__name__)
            return blocks.message_link(self._workspace_url, ref.channel, ref.ts) if self._workspace_url else ""

    async def replace(self, requester: Requester, text: str) -> bool:
        """Replace the answer the command produced (through the response_url only); False if that cannot be."""
        return await self._respond(requester, text, replace=True)

    async def tell(self, requester: Requester, texts: Sequence[str]) -> None:
        """Send ``texts`` in order, all one way: through the response_url if it can carry every one of them,
        else by DM (with a pointer to the DM where the command was typed, if the response_url has a use left)."""
        remaining = list(texts)
        if requester.response_url_usable(self._clock()) and len(remaining) <= RESPONSE_URL_USES - requester.uses:
            while remaining and await self._respond(requester, remaining[0], replace=False):
                remaining.pop(0)
        elif remaining:
            await self._respond(requester, f"{remaining[0]}\nThe full report is in a DM from me.", replace=False)
        if remaining:
            await self._direct(requester, remaining)

    async def _respond(self, requester: Requester, text: str, *, replace: bool) -> bool:
        if requester.respond is None or not requester.response_url_usable(self._clock()):
            return False
        requester.uses += 1
        try:
            response = await requester.respond.send(text=text, response_type="ephemeral", replace_original=replace)
        except Exception as exc:  # expired, used up, or unreachable: the DM is the way
            log.info("response_url unusable (%s)", type(exc).__name__)
            requester.uses = RESPONSE_URL_USES
            return False
        if response.status_code != 200:
            log.info("response_url answered %s", response.status_code)
            requester.uses = RESPONSE_URL_USES
            return False
        return True

    async def _direct(self, requester: Requester, texts: list[str]) -> None:
        try:
            opened = await self._client.conversations_open(users=requester.user)
            channel = str(opened["channel"]["id"])
            intro = blocks.dm_report_intro(requester.channel, requester.task, requester.card_link or None)
            for text in [intro, *texts]:
                await self._client.chat_postMessage(channel=channel, text=text, unfurl_links=False)
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError, KeyError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.error("could not tell %s how their run went, by any route: %s", requester.user, error)
