"""Running it like a service: ``/healthz`` and Prometheus ``/metrics`` on a small aiohttp server (``HEALTH_PORT``).

``/healthz`` answers 200 only while the bot is connected to Slack over Socket Mode and Redis answers a PING within
a second, else 503 with which one is down, so an orchestrator restarts or drains a replica that cannot serve.
``/metrics`` is ``prometheus-client``'s text format from a registry of the bot's own (no process-wide state):
approvals awaited in this process, decisions and expiries this process recorded, by outcome, the time from a
person's decision to the waiting run resuming, runs in flight, Slack Web API errors by method and error, and
Socket Mode reconnects. Nothing here shows a token or a setting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.approvals import Approval, State

log = logging.getLogger(__name__)

PING_S = 1.0
RESUME_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
Probe = Callable[[], Awaitable[bool]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.waits = Gauge("approval_bot_waits_pending", "Approvals this process is waiting on", registry=self.registry)
        self.runs = Gauge("approval_bot_runs_in_flight", "Runs this process is executing", registry=self.registry)
        self.decisions = Counter(
            "approval_bot_decisions",
            "Decisions and expiries this process recorded",
            ["outcome"],
            registry=self.registry,
        )
        self.resume = Histogram(
            "approval_bot_click_to_resume_seconds",
            "From a person's decision (Redis time) to the waiting run resuming",
            buckets=RESUME_BUCKETS,
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "approval_bot_slack_api_errors",
            "Slack Web API calls that failed",
            ["method", "error"],
            registry=self.registry,
        )
        self.reconnects = Counter(
            "approval_bot_socket_reconnects",
            "Socket Mode connections that closed and were reopened",
            registry=self.registry,
        )

    async def on_transition(self, approval: Approval) -> None:
        """The store's transition listener: one more decision (or expiry) recorded here."""
        self.decisions.labels(outcome=approval.state.value).inc()

    def resumed(self, approval: Approval) -> None:
        """A run's wait returned ``approval``; a person's decision counts its latency."""
        if approval.state is not State.EXPIRED and approval.decided_ms and ":" not in approval.decider:
            self.resume.observe(max(0.0, time.time() - approval.decided_ms / 1000))

    def slack_error(self, method: str, error: str) -> None:
        self.slack_errors.labels(method=method, error=error or "unknown").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """``/healthz`` and ``/metrics`` on ``host:port`` (port 0 picks a free one: ``port`` says which)."""

    def __init__(self, metrics: Metrics, *, slack: Probe, redis: Probe, host: str, port: int) -> None:
        self._metrics, self._slack, self._redis = metrics, slack, redis
        self._host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self.port)
        await site.start()
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self._host, self.port)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        slack, redis = await asyncio.gather(_safely(self._slack), _safely(self._redis))
        ready = slack and redis
        body = {"status": "ready" if ready else "not ready", "slack": slack, "redis": redis}
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _safely(probe: Probe) -> bool:
    try:
        async with asyncio.timeout(PING_S):
            return await probe()
    except Exception:  # a probe that fails or hangs means not ready
        return False
