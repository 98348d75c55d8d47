"""Stopping a background loop: a flag first, because redis-py can swallow a cancellation while it reads a reply
(``connection.raise_if_cancelled``), then the cancellation, awaited."""

from __future__ import annotations

import asyncio
import contextlib


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (None: nothing to do) and wait until it has ended; its loop checks its own flag too."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
