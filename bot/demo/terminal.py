"""Reading the person's answers from stdin inside the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TextIO


class Terminal:
    """Lines from stdin without blocking the event loop, and without a thread that Ctrl-C would leave behind.

    A pipe or a terminal is watched with ``add_reader``; a regular file (or ``/dev/null``) never blocks, so it
    is read directly. ``None`` means end of input (Ctrl-D, a closed pipe, no stdin at all).
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._fd: int | None = None
        self.echoes = False
        if stream is not None:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                self._fd = stream.fileno()
                self.echoes = stream.isatty()
        self._buffer = b""
        self._eof = self._fd is None

    async def readline(self) -> str | None:
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True
        if not self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")

    async def _read(self) -> bytes:
        assert self._fd is not None
        fd = self._fd
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        try:
            loop.add_reader(fd, _set_once, ready)
        except NotImplementedError:  # an event loop without add_reader (Windows)
            return await asyncio.to_thread(os.read, fd, 65536)
        except (OSError, ValueError):  # a regular file or /dev/null: reading never blocks
            return self._read_now(fd)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return self._read_now(fd)

    @staticmethod
    def _read_now(fd: int) -> bytes:
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            return b"\n"  # woken without data after all: an empty line, asked again
        except OSError:
            return b""


def _set_once(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)
