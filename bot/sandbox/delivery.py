"""Getting envelopes to the app: one at a time, in order, to a chosen or the next open connection, or (HTTP
mode) as signed requests to a chosen or the next Request URL; the 3 s deadline and Slack's retries either way."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp

from bot.sandbox import signing
from bot.sandbox.clock import Clock
from bot.sandbox.http_delivery import HttpPusher
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Envelope, Failure
from bot.sandbox.socket_mode import SocketHub

logger = logging.getLogger(__name__)

TIMEOUT = 10.0  # how long an envelope waits for an open connection
# "Your app must respond ... within 3 seconds" (docs.slack.dev/apis/events-api/using-socket-mode,
# "Acknowledge events"; bolt-python docs/english/concepts/acknowledge.md)
ACK_DEADLINE_S = 3.0
# Events API: "we'll retry up to 3 times: nearly immediately, then after 1 minute, then after 5 minutes"
# (docs.slack.dev/apis/events-api, "Error handling" / retries), with retry_reason "timeout" over Socket Mode;
# over HTTP a failure is also a non-2xx answer or no connection, and a late answer is not waited for: the retry
# goes out at the deadline (X-Slack-Retry-Reason http_timeout, http_error, connection_failed).
RETRY_DELAYS_S = (0.0, 60.0, 300.0)
Respond = Callable[[Envelope, dict[str, Any]], None]  # what an ack's payload does (a command's reply, a modal's)
Failed = Callable[[Failure], None]


class Delivery:
    """Sends envelopes (waiting for a connection if none is open), keeps background sends, routes acks.

    Sends are serialised by a FIFO lock, so events caused by Web API calls reach the app in call order.
    """

    def __init__(
        self,
        hub: SocketHub,
        recorder: Recorder,
        clock: Clock,
        on_response: Respond,
        on_failure: Failed,
        http: HttpPusher | None = None,
    ) -> None:
        self.hub = hub
        self.http = http
        """Set: HTTP mode, every envelope is a request to a Request URL and ``connection`` names the URL."""
        self.recorder = recorder
        self.clock = clock
        self.on_response = on_response
        self.on_failure = on_failure
        self.sent: dict[str, Envelope] = {}
        self.sent_at: dict[str, float] = {}
        self.late: set[str] = set()  # envelope ids whose deadline passed unacked, or whose answer was a failure
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Future[Any]] = set()

    async def deliver(self, envelope: Envelope, connection: str | None) -> Envelope:
        """Send ``envelope``; returns it with ``connection`` set. Raises ``TimeoutError`` if no connection."""
        if self.http is not None:
            return await self._request(self.http, envelope, connection)
        async with self._lock:
            while True:
                conn = await self.hub.pick(connection, TIMEOUT)
                sent = replace(envelope, connection=conn.id)
                self.sent[sent.envelope_id] = sent  # before sending: the ack may come back at once
                try:
                    await self.hub.send(conn, json.dumps(sent.frame()))
                except ConnectionError:
                    del self.sent[sent.envelope_id]
                    if connection is not None:
                        raise
                    conn.draining = True  # it is closing under us: try another one
                    continue
                self.sent_at[sent.envelope_id] = self.clock.now()
                self.recorder.record_envelope(sent)
                self._spawn(self._watch(sent))
                return sent

    async def _request(self, http: HttpPusher, envelope: Envelope, url: str | None) -> Envelope:
        """Post ``envelope`` and wait for its answer or its deadline (so requests, too, go out in order)."""
        async with self._lock:
            sent = replace(envelope, connection=await http.pick(url, TIMEOUT))
            self.sent[sent.envelope_id] = sent
            self.sent_at[sent.envelope_id] = self.clock.now()
            self.recorder.record_envelope(sent)
            self._spawn(self._watch(sent))
            exchange = asyncio.ensure_future(self._exchange(http, sent))
            self._keep(exchange)
            deadline = asyncio.ensure_future(self.clock.sleep_until(self.sent_at[sent.envelope_id] + ACK_DEADLINE_S))
            await asyncio.wait({exchange, deadline}, return_when=asyncio.FIRST_COMPLETED)
            deadline.cancel()
            return sent

    async def _exchange(self, http: HttpPusher, envelope: Envelope) -> None:
        try:
            answer = await http.post(envelope)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.info("request %s to %s failed: %r", envelope.envelope_id, envelope.connection, exc)
            self._fail(envelope, "connection_failed")
            return
        reason = signing.failure_reason(answer)
        if reason is not None:
            logger.info("request %s was answered %s", envelope.envelope_id, answer.status)
            self._fail(envelope, reason)
            return
        self.on_ack(signing.ack_of(envelope, answer))

    async def send_raw(self, text: str, connection: str | None) -> str:
        if self.http is not None:
            raise RuntimeError("HTTP mode has no socket to write frames to")
        async with self._lock:
            conn = await self.hub.pick(connection, TIMEOUT)
            await self.hub.send(conn, text)
            return conn.id

    def deliver_later(self, envelope: Envelope) -> None:
        """Deliver in the background, as Slack does with events caused by Web API calls."""
        self._spawn(self.deliver(envelope, None))

    def _spawn(self, work: Any) -> None:
        self._keep(asyncio.get_running_loop().create_task(work))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    async def _watch(self, envelope: Envelope) -> None:
        """At the ack deadline: unless acked (or failed already), a failure."""
        await self.clock.sleep_until(self.sent_at[envelope.envelope_id] + ACK_DEADLINE_S)
        if envelope.envelope_id not in self.recorder.acks:
            self._fail(envelope, "http_timeout" if self.http is not None else "timeout")

    def _fail(self, envelope: Envelope, reason: str) -> None:
        """Record what Slack does about a failed delivery, and retry an Events API envelope as Slack does."""
        if envelope.envelope_id in self.late:
            return
        self.late.add(envelope.envelope_id)
        if envelope.type == "events_api":
            outcome = "retried" if envelope.retry_attempt < len(RETRY_DELAYS_S) else "dropped"
        else:
            outcome = "shown_error" if envelope.type == "slash_commands" else "shown_warning"
        self.on_failure(Failure(envelope, outcome, self.clock.now(), reason))
        if outcome == "retried":
            self._spawn(self._retry(envelope, reason))

    async def _retry(self, envelope: Envelope, reason: str) -> None:
        await self.clock.sleep_until(self.clock.now() + RETRY_DELAYS_S[envelope.retry_attempt])
        await self.deliver(retry_of(envelope, reason), None)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("an event was not delivered: %s", task.exception())

    def on_ack(self, ack: dict[str, Any]) -> None:
        envelope = self.sent.get(str(ack["envelope_id"]))
        if envelope is None:
            logger.warning("ack for an unknown envelope %s", ack["envelope_id"])
        elif envelope.envelope_id in self.late:
            logger.warning("late ack (after %.0f s) for envelope %s", ACK_DEADLINE_S, envelope.envelope_id)
        else:
            try:
                self.on_response(envelope, ack)  # before the ack is recorded: wait_ack then sees its effect
            except Exception:
                logger.exception("applying the ack of envelope %s failed", envelope.envelope_id)
        self.recorder.record_ack(ack)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()


def retry_of(envelope: Envelope, reason: str = "timeout") -> Envelope:
    """Slack's retry of an envelope: a new envelope id, ``retry_attempt`` + 1, ``retry_reason`` ``reason``."""
    return replace(
        envelope,
        envelope_id=str(uuid.uuid4()),
        retry_attempt=envelope.retry_attempt + 1,
        retry_reason=reason,
        connection=None,
    )
