"""The HTTP side of delivery: signed POSTs to the app's Request URLs, beside Socket Mode (``socket_mode``).

Several URLs stand for replicas behind a load balancer: each request goes to the next one in turn. What a
request holds and what its answer means are Slack's rules (``signing``); when an answer is late or a failure is
``delivery``'s business, as it is for Socket Mode envelopes.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import aiohttp

from bot.sandbox import signing
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Envelope
from bot.sandbox.signing import Answer

logger = logging.getLogger(__name__)

ANSWER_WAIT_S = 30.0
"""How long a request waits for its answer at most (whether it came in time is the 3 s deadline's business)."""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """One request as it went on the wire: where, its headers and its body."""

    url: str
    headers: dict[str, str]
    body: bytes


class HttpPusher:
    def __init__(self, recorder: Recorder, signing_secret: str, request_urls: list[str]) -> None:
        if not signing_secret:
            raise ValueError("HTTP delivery needs the app's signing secret")
        self.recorder = recorder
        self.urls = list(request_urls)
        self.sent: dict[str, SignedRequest] = {}
        """Envelope id -> the request that carried it."""
        self._secret = signing_secret
        self._turn = itertools.count()
        self._session: aiohttp.ClientSession | None = None

    def add(self, url: str) -> None:
        if url not in self.urls:
            self.urls.append(url)
        self.recorder.changed()

    def remove(self, url: str) -> None:
        if url in self.urls:
            self.urls.remove(url)
        self.recorder.changed()

    async def pick(self, url: str | None, timeout: float) -> str:
        """``url``, or the next Request URL in turn (waiting up to ``timeout`` for one to be set)."""
        if url is not None:
            return url
        urls = await self.recorder.wait_for(lambda: list(self.urls), timeout, "a Request URL")
        return urls[next(self._turn) % len(urls)]

    async def post(self, envelope: Envelope) -> Answer:
        """Send ``envelope`` to its URL (``connection``), signed now; raises ``aiohttp.ClientError`` or
        ``OSError`` when the app cannot be reached or hangs up."""
        assert envelope.connection is not None
        content_type, body = signing.encode(envelope.type, envelope.payload)
        # Signed with the wall clock, not the emulator's Clock: the app checks the timestamp against its own
        # clock, which ``SlackEmulator.advance`` does not move.
        sent = signing.headers(self._secret, int(time.time()), content_type, body, envelope)
        self.sent[envelope.envelope_id] = SignedRequest(envelope.connection, sent, body)
        return await self.send(envelope.connection, sent, body)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        """POST ``body`` with ``headers`` as they are (a forged or replayed request too)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ANSWER_WAIT_S))
        async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            return Answer(response.status, response.content_type, await response.read())

    def signed(
        self, kind: str, payload: dict[str, object], *, secret: str | None, timestamp: int | None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a request of ``kind`` signed with ``secret`` (default: the app's) at ``timestamp``
        (default: now): for tests of forged and stale requests."""
        content_type, body = signing.encode(kind, dict(payload))
        at = int(time.time()) if timestamp is None else timestamp
        envelope = Envelope("", kind, dict(payload))
        return signing.headers(secret or self._secret, at, content_type, body, envelope), body

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
