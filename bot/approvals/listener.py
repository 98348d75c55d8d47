"""One pub/sub connection that hears decisions, and notices when it stops hearing anything.

redis-py re-subscribes silently after a dropped connection and pub/sub keeps nothing for absent subscribers, so
every subscription confirmation (the only sign of a reconnect) is reported to ``on_subscribed``, which re-reads
the records of local waiters. A connection can also stay open and deliver nothing (half-open TCP, a stalled
server), which neither redis-py's ``health_check_interval`` nor a blocking read notices; so the reader reads with a
timeout, sends its own PING after ``idle_s`` of silence, and reconnects when nothing comes back within
``reply_timeout_s``.

A listener reads either classic channels (``SUBSCRIBE``) or shard channels (``SSUBSCRIBE``, Redis Cluster 7.0+).
A shard channel's subscription ends with a ``sunsubscribe`` that nobody asked for when its slot moves to another
node (a failover, a resharding); the listener reports that to ``on_moved``, as it reports every failed read to
``on_lost``, so its owner can look where the slot went.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from bot.approvals.connection import raise_if_cancelled
from bot.approvals.models import as_text

log = logging.getLogger(__name__)

PING_TOKEN = "approvals-liveness"

DATA = frozenset({"message", "smessage"})
CONFIRMED = frozenset({"subscribe", "ssubscribe"})


async def unchanged(response: Any) -> Any:
    """A RESP3 push handler that hands a push on as it is (redis-py's default formats every message into a debug
    log line first, logged or not)."""
    return response


class ShardPubSub(PubSub):
    """A ``PubSub`` on one cluster node that re-subscribes one shard channel per ``SSUBSCRIBE`` after a reconnect.

    redis-py's plain ``PubSub`` re-sends all of them in one command, which a cluster refuses (``CROSSSLOT``) for
    channels of different slots."""

    async def on_connect(self, connection: Any) -> None:
        self.pending_unsubscribe_shard_channels.clear()
        for channel in list(self.shard_channels):
            await self.ssubscribe(channel)


class ChannelListener:
    def __init__(
        self,
        pubsub: PubSub,
        channels: Sequence[str],
        *,
        sharded: bool,
        on_data: Callable[[str], None],
        on_subscribed: Callable[[], None],
        on_moved: Callable[[], None] = lambda: None,
        on_lost: Callable[[], None] = lambda: None,
        idle_s: float = 1.5,
        reply_timeout_s: float = 2.0,
        name: str = "approval-listener",
    ) -> None:
        self.pubsub = pubsub
        self.channels = tuple(channels)
        self._sharded = sharded
        self._on_data = on_data
        self._on_subscribed = on_subscribed
        self._on_moved = on_moved
        self._on_lost = on_lost
        self._idle_s = idle_s
        self._reply_timeout_s = reply_timeout_s
        self._name = name
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self.confirmed: set[str] = set()
        """Channels whose subscription was confirmed on the current connection or an earlier one."""
        self.moved: set[str] = set()
        """Shard channels the node unsubscribed us from (their slot left it): this listener no longer hears them."""

    async def start(self) -> None:
        """Subscribe (one channel per command: shard channels of different slots cannot share one) and read."""
        for channel in self.channels:
            if self._sharded:
                await self.pubsub.ssubscribe(channel)
            else:
                await self.pubsub.subscribe(channel)
        self._reader = asyncio.create_task(self._read(), name=self._name)

    @property
    def healthy(self) -> bool:
        """Subscribed to all its channels and reading (``start()`` went through, no slot moved away since)."""
        return self._reader is not None and not self.moved

    async def aclose(self) -> None:
        self._closing = True  # redis-py can swallow a cancellation (see connection.raise_if_cancelled)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        with contextlib.suppress(RedisError, OSError):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.05
        heard = loop.time()
        pinged: float | None = None  # when our PING went out, while its answer is awaited
        while not self._closing:
            try:
                if pinged is None and loop.time() - heard >= self._idle_s:
                    await self.pubsub.ping(PING_TOKEN)
                    pinged = loop.time()
                wait_s = self._idle_s if pinged is None else max(0.0, pinged + self._reply_timeout_s - loop.time())
                message = await self.pubsub.get_message(timeout=wait_s)
                raise_if_cancelled()
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("%s lost Redis (%s); reconnecting in %.2fs", self._name, exc, backoff)
                self._on_lost()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                heard, pinged = loop.time(), None
                continue
            if message is None:
                if pinged is not None and loop.time() - pinged >= self._reply_timeout_s:
                    log.warning("%s heard nothing for %.1fs; reconnecting", self._name, loop.time() - heard)
                    await self._drop_connection()
                    heard, pinged = loop.time(), None
                continue
            heard, pinged, backoff = loop.time(), None, 0.05  # anything at all proves the connection alive
            self._dispatch(message["type"], message["channel"], message["data"])
            if message["type"] in DATA:
                try:
                    self._drain()
                except (RedisError, OSError) as exc:
                    log.warning("%s read an error (%s); reconnecting", self._name, exc)
                    await self._drop_connection()

    def _dispatch(self, kind: str | bytes, channel: str | bytes | None, data: Any) -> None:
        if isinstance(kind, bytes):
            kind = kind.decode()
        if kind in DATA:
            self._on_data(data)
        elif kind in CONFIRMED:
            # First subscription or a silent re-subscription after a reconnect: anything published while we
            # were away is lost, so the owner re-reads every record it waits for.
            self.confirmed.add(as_text(channel or ""))
            self._on_subscribed()
        elif kind == "sunsubscribe":
            name = as_text(channel or "")
            log.warning("%s: the slot of %s moved to another node", self._name, name)
            self.confirmed.discard(name)
            self.moved.add(name)
            self._on_moved()

    def _drain(self) -> None:
        """Handle every reply hiredis has already parsed from the socket, without a round through redis-py's
        reader for each (about 15 us a message: 10,000 decisions arrive in one burst).

        A socket read hands hiredis up to 64 KB at once, several hundred decisions in a burst. Only what is
        complete in that buffer is taken here; the next ``get_message`` reads the socket as before. Without hiredis
        (or if redis-py's parser internals change) this does nothing and every message takes the usual path."""
        reader = _hiredis_reader(self.pubsub)
        if reader is None:
            return
        while (reply := reader.gets()) is not NOT_ENOUGH_DATA:
            if isinstance(reply, Exception):
                raise reply  # what redis-py's reader raises for it; the read loop reconnects
            if isinstance(reply, list) and len(reply) >= 3:
                self._dispatch(reply[0], reply[1], reply[2])
            # else a PING's answer (a string): it only proves the connection alive

    async def _drop_connection(self) -> None:
        """Close the deaf socket; the next read reconnects, redis-py re-subscribes, and that triggers a resync."""
        connection = self.pubsub.connection
        if connection is not None:
            await connection.disconnect(nowait=True)


def _hiredis_reader(pubsub: PubSub) -> Any | None:
    """The hiredis reader of ``pubsub``'s connection, or None (not connected, or another parser)."""
    parser = getattr(pubsub.connection, "_parser", None)
    if isinstance(parser, _AsyncHiredisParser) and getattr(parser, "_connected", False):
        return getattr(parser, "_reader", None)
    return None
