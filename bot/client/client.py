"""``ApprovalClient``: ask for a human's approval in Slack from any Python program that can reach the bots' Redis.

::

    async with ApprovalClient("redis://localhost:6379/0") as client:
        decision = await client.ask("Deploy v1.4 to production", "12 commits, migrations: none",
                                    requester="U024BE7LH", timeout=1800, key="deploy-v1.4")
    if decision.approved: ...

The client speaks only to Redis, through the approval engine: it creates the approval (idempotent by ``key``, under
the policy the running bots published), asks the bots for its card through the card stream, and waits with the
engine's own ``wait()`` (woken by the decision's publication, no polling). A running ``approval-bot run`` posts the
card to its approvals channel; if none runs, the card is posted when one starts (the deadline runs meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import redis.asyncio as aioredis

from bot.approvals.card_stream import CardStream
from bot.approvals.connection import TRANSIENT, connect
from bot.approvals.errors import ApprovalError
from bot.approvals.requests import Asked, Requests
from bot.approvals.store import ApprovalStore
from bot.client.decisions import Decision, Request, decision_of
from bot.config import redact_url

log = logging.getLogger(__name__)


class ClientClosed(RuntimeError):
    """The client is used outside ``async with`` (or after it closed)."""


class RedisUnavailable(ApprovalError):
    """The bots' Redis did not answer (nothing was asked, or the request may not have reached it: ask again with
    the same ``key``)."""


class ApprovalClient:
    """Asks for approvals through the bots' Redis. Use it as an async context manager.

    ``channel``: the approvals channel (ID ``C…`` or ``#name``) the cards are meant for; a bot whose
    ``APPROVALS_CHANNEL`` is another one refuses such a request (cancelled, saying why) instead of posting it
    where it was not expected. None: whatever channel the bots post approvals in.
    """

    def __init__(self, redis_url: str, *, channel: str | None = None) -> None:
        self._url = redis_url
        self._channel = channel or ""
        self._redis: aioredis.Redis | None = None
        self._store: ApprovalStore | None = None
        self._requests: Requests | None = None

    async def __aenter__(self) -> ApprovalClient:
        redis = connect(self._url)
        store = ApprovalStore(redis)
        try:
            with self._translated():
                await redis.ping()
                await store.start(maintenance=False)  # the decisions' subscriber only; the bots run the maintenance
        except BaseException:
            await store.aclose()
            await redis.aclose()
            raise
        self._redis, self._store = redis, store
        self._requests = Requests(store, CardStream(redis))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        store, redis = self._store, self._redis
        self._store = self._redis = self._requests = None
        if store is not None:
            await store.aclose()
        if redis is not None:
            await redis.aclose()

    async def request(
        self,
        title: str,
        details: str = "",
        *,
        requester: str | None = None,
        timeout: float = 3600,
        key: str | None = None,
        tool: str | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> Request:
        """Ask for an approval and return at once.

        ``title`` (one line, at most 200 characters) and ``details`` are shown on the card (Slack formatting
        characters are escaped). ``requester``: a Slack user id (``U…``; where the policy or ``SELF_APPROVAL``
        forbids self-approval, that person's own Approve is refused) or a free-text name such as ``ci:deploy``
        (shown on the card, but never recognised as a person, so self-approval rules cannot apply to it).
        ``timeout``: seconds people have to decide; then it expires. ``key``: an idempotency key; the same key
        again returns the same approval (and its decision, once made), with one card; a key used before for
        a different request raises ``KeyReused``. ``tool`` and ``arguments`` (JSON values): a tool call, judged by
        the policy's tool rules and shown as a tool card.

        The policy applies: ``Request.decision`` is set when a rule decided at once (``auto``: approved,
        ``deny``: denied, with no card); otherwise a person decides (two for an ``ask_two`` rule).
        Raises ``ValueError`` for bad input (nothing is written), ``RedisUnavailable`` when Redis does not answer.
        """
        asked = Asked(
            title=title,
            details=details,
            requester=requester or "",
            timeout_s=float(timeout),
            key=key,
            tool=tool or "",
            arguments=dict(arguments or {}),
        )
        with self._translated():
            approval = await self._ready().create(asked, channel=self._channel)
        log.info("asked approval %s (%s)", approval.id, approval.state)
        return Request(approval.id, decision_of(approval))

    async def wait(self, approval_id: str, timeout: float | None = None) -> Decision | None:
        """The decision of ``approval_id``, waiting up to ``timeout`` seconds (None: until it is decided or
        expires). None if it is still pending when ``timeout`` ends (it stays pending: wait again later).
        Raises ``UnknownApproval`` for an id Redis does not hold (never made, or past its retention). A Redis that
        stops answering meanwhile is waited out (the wait goes on once it is back)."""
        store = self._store
        if store is None:
            raise ClientClosed("use ApprovalClient inside `async with`")
        approval = await store.wait(approval_id, timeout, keep_pending=True)
        return decision_of(approval)

    async def ask(
        self,
        title: str,
        details: str = "",
        *,
        requester: str | None = None,
        timeout: float = 3600,
        key: str | None = None,
        tool: str | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> Decision:
        """``request`` and wait for its end: the decision, or ``expired`` once ``timeout`` has passed."""
        asked = await self.request(
            title, details, requester=requester, timeout=timeout, key=key, tool=tool, arguments=arguments
        )
        if asked.decision is not None:
            return asked.decision
        decision = await self.wait(asked.approval_id)
        assert decision is not None  # a wait without a timeout ends at the deadline at the latest
        return decision

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Redis not answering, in words, once, at the client's edge (the URL's password masked)."""
        try:
            yield
        except TRANSIENT as exc:
            raise RedisUnavailable(f"Redis at {redact_url(self._url)} did not answer: {exc}") from exc

    def _ready(self) -> Requests:
        if self._requests is None:
            raise ClientClosed("use ApprovalClient inside `async with`")
        return self._requests


def ask_sync(
    redis_url: str,
    title: str,
    details: str = "",
    *,
    channel: str | None = None,
    requester: str | None = None,
    timeout: float = 3600,
    key: str | None = None,
    tool: str | None = None,
    arguments: Mapping[str, Any] | None = None,
) -> Decision:
    """``ApprovalClient.ask`` for a script without an event loop of its own (it runs one with ``asyncio.run``)."""

    async def asking() -> Decision:
        async with ApprovalClient(redis_url, channel=channel) as client:
            return await client.ask(
                title, details, requester=requester, timeout=timeout, key=key, tool=tool, arguments=arguments
            )

    return asyncio.run(asking())
