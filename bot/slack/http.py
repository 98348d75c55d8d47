"""HTTP mode: Slack's requests (slash commands, interactivity, events) arrive as signed HTTP POSTs at
``/slack/events`` and the HTTP response is the ack; the listeners are the same ones Socket Mode drives.

Every request's signature is checked before anything reads it (docs.slack.dev/authentication/
verifying-requests-from-slack): ``X-Slack-Signature`` must be ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``
under the Signing Secret, and ``X-Slack-Request-Timestamp`` within 5 minutes of now (slack-sdk's
``SignatureVerifier``). A refused request gets 401 and one log line that names neither the secret nor the body
(Bolt's own refusal line logs the whole body, which holds a ``response_url`` anyone may post to); Bolt's request
verification stays on behind this one. Bolt answers ``url_verification`` and ``ssl_check`` itself.

Slack's retries (``X-Slack-Retry-Num``, ``X-Slack-Retry-Reason``) carry the same ``event_id`` as the first
delivery, so ``bot.slack.redelivery`` drops them in Redis on whichever replica they reach, as it drops Socket
Mode redeliveries. Acks follow ``bot.slack.acks``: a request Bolt fails on is answered 200 all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.slack.acks import Followups, Malformed, acknowledged, malformed_click
from bot.slack.startup import StartupError

log = logging.getLogger(__name__)

PATH = "/slack/events"
"""Bolt's default path, and the one ``manifest.http.yml`` names."""


class SlackHttpServer:
    """Serves ``app`` over HTTP on ``host:port`` (port 0 picks a free one: ``port`` says which)."""

    def __init__(self, app: AsyncApp, signing_secret: str, *, host: str, port: int, on_malformed: Malformed) -> None:
        self.app = app
        self.host, self.port = host, port
        self._verifier = SignatureVerifier(signing_secret)
        self._on_malformed = on_malformed
        self._followups = Followups(app)
        self._runner: web.AppRunner | None = None
        self._handling = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def serving(self) -> bool:
        """True while the server listens (the Slack side of ``/healthz`` in HTTP mode)."""
        return self._runner is not None and bool(self._runner.sites)

    async def start(self) -> None:
        web_app = web.Application()
        web_app.router.add_post(PATH, self._handle)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            why = exc.strerror or type(exc).__name__
            raise StartupError(f"cannot serve HTTP mode on {self.host}:{self.port} ({why}); check HTTP_PORT") from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])
        log.info("serving Slack's requests on http://%s:%d%s", self.host, self.port, PATH)

    async def aclose(self, *, acks_s: float, listeners_s: float) -> list[str]:
        """Stop listening, answer the requests being handled (within ``acks_s``), then let listeners finish what
        they do after their ack (within ``listeners_s``); returns what was left undone."""
        runner, self._runner = self._runner, None
        if runner is None:
            return []
        left = []
        for site in list(runner.sites):
            await site.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(acks_s):
                await self._idle.wait()
        if self._handling:
            left.append(f"HTTP: {self._handling} request(s) not answered within {acks_s:.1f} s (Slack retries events)")
        await runner.cleanup()
        cut = await self._followups.finish(listeners_s)
        if cut:
            left.append(f"HTTP: {cut} listener(s) cut short after their ack")
        return left

    async def _handle(self, request: web.Request) -> web.Response:
        self._handling += 1
        self._idle.clear()
        try:
            return await self._answer(request)
        finally:
            self._handling -= 1
            if not self._handling:
                self._idle.set()

    async def _answer(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if _ssl_check(raw):
            return web.Response(status=200)
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        if not self._signed(raw, timestamp, request.headers.get("X-Slack-Signature")):
            log.warning(
                "refused a request with a bad or stale signature (X-Slack-Request-Timestamp %.20r, from %s)",
                timestamp,
                request.remote,
            )
            return web.json_response({"error": "invalid request"}, status=401)
        body = raw.decode("utf-8", errors="replace")
        headers: dict[str, str | Sequence[str]] = {
            name.lower(): request.headers.getall(name) for name in request.headers
        }
        try:
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=headers)
        except ValueError:  # a body that says JSON and is not: nothing a listener could act on
            log.warning("acknowledged a signed request whose body could not be parsed")
            return web.Response(status=200)
        if not isinstance(bolt_request.body, dict):
            log.warning("acknowledged a signed request whose body is not an object")
            return web.Response(status=200)
        kind = _kind(bolt_request.body)
        if malformed_click(kind, bolt_request.body):
            log.warning("acknowledged a malformed block_actions payload")
            self._followups.keep(asyncio.ensure_future(self._on_malformed(bolt_request.body)))
            return web.Response(status=200)
        response = await acknowledged(self.app, bolt_request, kind)
        return await to_aiohttp_response(response)

    def _signed(self, raw: bytes, timestamp: str | None, signature: str | None) -> bool:
        if timestamp is None or signature is None or not timestamp.isdigit():
            return False  # slack-sdk's verifier raises on a timestamp that is not a number
        return self._verifier.is_valid(raw, timestamp, signature)


def _ssl_check(raw: bytes) -> bool:
    """Slack's probe of a slash command's URL (form field ``ssl_check=1``): answered 200 and never dispatched,
    as Bolt's ``SslCheck`` middleware does ahead of its signature check (docs.slack.dev/interactivity/
    implementing-slash-commands)."""
    return parse_qs(raw.decode("utf-8", errors="replace")).get("ssl_check") == ["1"]


def _kind(body: dict[str, Any]) -> str:
    """The Socket Mode name of what arrived (``slash_commands``, ``interactive``, ``events_api``), for logs and
    for the malformed-click check."""
    if "command" in body:
        return "slash_commands"
    if body.get("type") in ("event_callback", "url_verification", "app_rate_limited"):
        return "events_api"
    return "interactive"
