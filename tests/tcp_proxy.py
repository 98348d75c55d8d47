"""A loopback TCP proxy for tests that can silently stop delivering on a connection: a half-open socket.

``deafen(upstream_port)`` makes the proxy swallow everything the server sends on that connection, while what the
client sends still reaches the server and the connection stays open: the client sees no error and no data, as
after a NAT or a firewall dropped the flow. New connections are forwarded normally. Redis sees the proxy's
upstream side of each connection, so ``CLIENT LIST`` gives its port (``addr=127.0.0.1:<port>``) and a test can
pick, say, the subscriber's connection by asking Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class _Link:
    upstream_port: int
    deaf: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for link in self._links:
            for writer in link.writers:
                writer.close()
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
        await self._server.wait_closed()

    def upstream_ports(self) -> set[int]:
        """The local ports of the proxy's connections to the server (what the server sees as clients)."""
        return {link.upstream_port for link in self._links}

    def deafen(self, upstream_port: int) -> None:
        """From now on, drop every byte the server sends on the connection whose upstream side is that port."""
        for link in self._links:
            if link.upstream_port == upstream_port:
                link.deaf = True
                return
        raise LookupError(f"no proxied connection uses upstream port {upstream_port}")

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        link = _Link(upstream_port=int(server_writer.get_extra_info("sockname")[1]))
        link.writers = [client_writer, server_writer]
        link.tasks = [
            asyncio.create_task(self._pump(client_reader, server_writer, link, to_client=False)),
            asyncio.create_task(self._pump(server_reader, client_writer, link, to_client=True)),
        ]
        self._links.append(link)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, to_client: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if to_client and link.deaf:
                    continue
                writer.write(data)
                await writer.drain()
        if not (to_client and link.deaf):
            writer.close()
