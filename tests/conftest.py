from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot.approvals import ApprovalStore, StoreSettings
from bot.approvals.connection import connect
from bot.sandbox import SlackEmulator
from bot.slack.scopes import REQUIRED_SCOPES
from tests.redis_server import Fsync, RedisServer

# slack-sdk applies proxy variables to loopback too; the emulator lives on 127.0.0.1.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session; each test gets it flushed."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def make_redis_server() -> Iterator[Callable[..., RedisServer]]:
    """Redis servers of the test's own, which it may stop and restart; closed after the test."""
    servers: list[RedisServer] = []

    def make(*, appendonly: bool = True, appendfsync: Fsync = "always") -> RedisServer:
        server = RedisServer(appendonly=appendonly, appendfsync=appendfsync)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[ApprovalStore]:
    redis = connect(redis_url)
    approvals = ApprovalStore(redis, StoreSettings(sweep_interval_s=0.2))
    await approvals.start(maintenance=False)
    yield approvals
    await approvals.aclose()
    await redis.aclose()


SIGNING_SECRET = "3c1f9e0b7a5d4e2c8b6a1f0e9d7c5b3a"
"""The app's signing secret when the emulator delivers over HTTP."""


@pytest.fixture
async def slack(request: pytest.FixtureRequest) -> AsyncIterator[SlackEmulator]:
    """The strict emulator with the bot token's scopes: the manifest's (``REQUIRED_SCOPES``).

    A test module may set ``SLACK_SCOPES`` to install the app with other scopes, and ``SLACK_TRANSPORT = "http"``
    to have the emulator deliver over HTTP (``manifest.http.yml``) instead of Socket Mode.
    """
    scopes = getattr(request.module, "SLACK_SCOPES", REQUIRED_SCOPES)
    http = getattr(request.module, "SLACK_TRANSPORT", "socket") == "http"
    async with SlackEmulator(scopes=scopes, signing_secret=SIGNING_SECRET if http else None) as emulator:
        yield emulator
