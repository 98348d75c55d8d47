"""HTTP mode's switches and probes, a base of ``SlackEmulator``: the Request URLs (replicas behind a load
balancer), Slack's ``url_verification`` handshake, and requests signed wrongly, too long ago or replayed, for
tests of an app's signature check."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from bot.sandbox.http_delivery import HttpPusher, SignedRequest
from bot.sandbox.records import Envelope
from bot.sandbox.signing import Answer

STALE_S = 6 * 60
"""Older than the 5 minutes an app must accept ("If the request timestamp is more than five minutes from local
time, it could be a replay attack", docs.slack.dev/authentication/verifying-requests-from-slack)."""


class HttpMode:
    _http: HttpPusher | None

    def _pusher(self) -> HttpPusher:
        if self._http is None:
            raise RuntimeError("the emulator delivers over Socket Mode: pass signing_secret= for HTTP mode")
        return self._http

    @property
    def http_mode(self) -> bool:
        """True when envelopes go out as HTTP requests (``signing_secret`` given), not over Socket Mode."""
        return self._http is not None

    @property
    def request_urls(self) -> list[str]:
        """The app's Request URLs; each request goes to the next one in turn."""
        return list(self._pusher().urls)

    def add_request_url(self, url: str) -> None:
        """Another replica behind the load balancer (requests waiting for a URL go out now)."""
        self._pusher().add(url)

    def remove_request_url(self, url: str) -> None:
        self._pusher().remove(url)

    def request_of(self, envelope: Envelope) -> SignedRequest:
        """The HTTP request that carried ``envelope``: its URL, headers (signature, retry headers) and body."""
        try:
            return self._pusher().sent[envelope.envelope_id]
        except KeyError:
            raise LookupError(f"no request carried envelope {envelope.envelope_id}") from None

    async def replay(self, envelope: Envelope) -> Answer:
        """Send the request that carried ``envelope`` again, byte for byte (a replay within the 5 minutes its
        signature stays valid): no deadline, no retry."""
        sent = self.request_of(envelope)
        return await self._pusher().send(sent.url, dict(sent.headers), sent.body)

    async def verify_url(self, url: str, *, token: str = "") -> tuple[bool, Answer]:
        """What Slack does when a Request URL is saved: a signed ``url_verification`` with a fresh challenge.
        True when the answer is a 200 echoing the challenge (as its body, or as ``challenge`` in JSON), as
        docs.slack.dev/reference/events/url_verification asks."""
        challenge = secrets.token_urlsafe(24)
        payload = {"token": token, "challenge": challenge, "type": "url_verification"}
        answer = await self.send_signed("events_api", payload, url=url)
        return answer.status == 200 and _echoes(answer, challenge), answer

    async def send_signed(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        url: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Answer:
        """Post ``payload`` as Slack would send a request of ``kind`` (``slash_commands``, ``interactive``,
        ``events_api``), signed with ``secret`` (default: the app's signing secret) at ``timestamp`` (default:
        now), outside any delivery: no deadline, no retry, nothing the emulator does with the answer."""
        http = self._pusher()
        target = await http.pick(url, 5)
        headers, body = http.signed(kind, payload, secret=secret, timestamp=timestamp)
        return await http.send(target, headers, body)

    async def send_forged(self, kind: str, payload: dict[str, Any], *, url: str | None = None) -> Answer:
        """A request signed with a secret that is not the app's (what anyone who knows the URL can send)."""
        return await self.send_signed(kind, payload, url=url, secret="not-" + secrets.token_hex(16))

    async def send_stale(self, kind: str, payload: dict[str, Any], *, url: str | None = None) -> Answer:
        """A request correctly signed, but ``STALE_S`` ago: a captured request replayed later."""
        return await self.send_signed(kind, payload, url=url, timestamp=int(time.time()) - STALE_S)


def _echoes(answer: Answer, challenge: str) -> bool:
    if answer.text.strip() == challenge:
        return True
    try:
        parsed = json.loads(answer.body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("challenge") == challenge
