"""The demo in a browser: the emulator's sandbox page, opened for the person, served until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import webbrowser
from collections.abc import AsyncIterator
from typing import TextIO

from bot.sandbox import SlackEmulator

PAGE_PEOPLE = ("alice", "bob", "carol")
"""Who is in the sandbox: alice asks (and may approve her own requests), bob and carol approve; two of them make
an ``ask_two`` quorum, and ``SELF_APPROVAL=deny`` shows separation of duties."""

PAGE_HINTS = (
    "/agent-task Draft the announcement email for release 2.4",
    "/agent-task ops: win back inactive customers",
    "/agent-task plan: count the customers in the export file",
    "/agent-task help",
)
"""What the page's message box suggests: one task per workflow, and the list of workflows."""

TRY = (
    "Try, in #general:  /agent-task Draft the announcement email for release 2.4\n"
    "                   /agent-task ops: win back inactive customers     (its email needs two approvers)\n"
    "                   /agent-task plan: count the customers in the export file\n"
    "Click Revise, then reply in the card's thread with what to change. Ctrl-C stops everything."
)


async def serve_page(
    slack: SlackEmulator,
    *,
    requester: str,
    intro: str,
    task: str | None,
    browser: bool,
    out: TextIO = sys.stdout,
) -> int:
    """Print the page's URL (and open it), type ``task`` as ``requester`` if given, serve until a signal."""
    url = slack.page_url
    async with _signals() as stopped:  # first: a Ctrl-C right after the address is printed stops cleanly too
        opened = browser and _open(url)
        note = "\n(No browser to open here: open the address above yourself.)" if browser and not opened else ""
        print(f"{intro}\n\n  Open    {url}{note}\n\n{TRY}", file=out, flush=True)
        if task:
            await slack.slash_command(requester, task, channel_id=slack.general)
        await stopped.wait()
    print("\nStopping the demo.", file=out, flush=True)
    return 0


def _open(url: str) -> bool:
    """Open ``url`` in a graphical browser; never in a text browser that would take over this terminal."""
    graphical = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if not graphical:
        return False
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


@contextlib.asynccontextmanager
async def _signals() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while inside (Python's own Ctrl-C handling is back afterwards)."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stopped.set)
    try:
        yield stopped
    finally:
        for signum in signals:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
