"""Runs a code block the way a person approved it: isolated from the bot's secrets, bounded in time and output.

AutoGen's ``LocalCommandLineCodeExecutor`` runs code with a copy of the parent's whole environment (the bot's
tokens included) and, at its time limit, sends SIGTERM to its direct child only, so a grandchild that ignores it
lives on. ``IsolatedCodeExecutor`` implements the same ``CodeExecutor`` interface and, for every block:

- runs it in a fresh throwaway directory (never the bot's working directory), removed afterwards;
- gives it an explicit environment: ``PATH`` (system directories only), ``HOME`` (the throwaway directory) and
  ``LANG``; nothing of the bot's (no ``SLACK_*``, ``OPENAI_API_KEY``, ``REDIS_URL``, nothing from ``.env``);
- starts it in its own session and process group and sends SIGKILL to the whole group at the time limit (and
  once the block itself has exited, so nothing it left in the background outlives it);
- keeps at most ``output_limit`` bytes of stdout and of stderr, saying how much was cut.

What protects the bot's secrets from code that looks for them elsewhere:

- ``/proc/<bot pid>/environ`` and ``/proc/<bot pid>/cwd`` (and so the bot's ``.env`` through it) are readable
  only by a process allowed to ptrace the bot. When the bot runs as root, the code runs as ``nobody``
  (uid/gid 65534, no supplementary groups), which may not. When the bot runs as another user, the code runs as
  that same user: then only ``make_undumpable()``, called at start-up, keeps those two out of its reach.
- ``/proc/<bot pid>/cmdline`` is readable by every process whatever is done here: the bot takes no secret as an
  argument, and must never be given one.
- The ``.env`` file by its path: file permissions. Keep it ``chmod 600`` (then ``nobody`` cannot read it). Code
  running as the bot's own user (a bot that is not root) can read every file the bot can, ``.env`` included.

Not covered: the network (the code can reach whatever the host can, a local Redis included), a process that
leaves the group with ``setsid()`` before the limit, and resource limits other than time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import pwd
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock, CodeExecutor, CodeResult

log = logging.getLogger(__name__)

CODE_TIMEOUT_S = 60.0
OUTPUT_LIMIT = 10_000
"""Bytes of stdout, and of stderr, kept from one block."""
CODE_USER = 65534
"""``nobody``: who the code runs as when the bot is root."""
PATH = "/usr/local/bin:/usr/bin:/bin"
LANG = "C.UTF-8"
LANGUAGES = {"python": "python", "py": "python", "python3": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
"""Fence labels the executor runs, and the language each one means."""
TIMED_OUT = 124
SUCCEEDED = "Exit code 0."
_DRAIN_S = 2.0
_PR_SET_DUMPABLE = 4


def make_undumpable() -> bool:
    """Make this process non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): its ``/proc/<pid>/environ``, ``cwd`` and
    memory become unreadable to other processes, even of the same user (root excepted). Linux only; elsewhere a
    no-op that returns False. It also stops core dumps and debuggers attaching (py-spy included)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(errno)}")
    return True


def _drop_privileges(uid: int) -> Callable[[], None]:
    def drop() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return drop


def default_user() -> int | None:
    """``nobody`` when this process is root and that user exists; otherwise None (the code runs as us)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwuid(CODE_USER)
    except KeyError:
        return None
    return CODE_USER


@dataclass(frozen=True, slots=True)
class Execution:
    """What one block did."""

    language: str
    exit_code: int
    stdout: str
    stderr: str
    stdout_cut: int = 0
    """Bytes of stdout left out."""
    stderr_cut: int = 0
    timed_out: bool = False

    def describe(self, timeout_s: float) -> str:
        """The result in words: the exit code, then each stream in a code block, with what was cut."""
        if self.timed_out:
            head = f"Killed at the time limit ({timeout_s:g} s), with everything it started."
        elif self.exit_code < 0:
            head = f"Killed by signal {-self.exit_code}."
        else:
            head = SUCCEEDED if self.exit_code == 0 else f"Exit code {self.exit_code}."
        parts = [head, _stream("stdout", self.stdout, self.stdout_cut), _stream("stderr", self.stderr, self.stderr_cut)]
        return "\n".join(parts)


def succeeded(description: str) -> bool:
    """Whether ``Execution.describe()`` text tells of a block that exited with 0 (a recorded result is text)."""
    return description.startswith(SUCCEEDED)


def _stream(name: str, text: str, cut: int) -> str:
    if not text and not cut:
        return f"{name}: (empty)"
    shown = text.replace("```", "` ` `")  # a fence in the output would close ours
    note = f"\n({name} cut: {cut:,} more bytes not shown)" if cut else ""
    return f"{name}:\n```\n{shown.rstrip(chr(10))}\n```{note}"


class _Capture:
    """A pipe the block writes one stream to, read to its end keeping the first ``limit`` bytes.

    The pipe is ours, not asyncio's: ``Process.wait()`` of Python 3.11 returns only once the pipes it manages are
    closed, so a background process holding one would make a finished block look as if it were still running."""

    def __init__(self, limit: int) -> None:
        self.kept = bytearray()
        self.cut = 0
        self._limit = limit
        self._stream = asyncio.StreamReader()
        self._transport: asyncio.BaseTransport | None = None
        read_end, self.write_end = os.pipe()
        self._file = os.fdopen(read_end, "rb", buffering=0)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        protocol = asyncio.StreamReaderProtocol(self._stream)
        self._transport, _ = await loop.connect_read_pipe(lambda: protocol, self._file)

    def release_write_end(self) -> None:
        """Once the block has its copy: the stream ends when every process of the block has closed its own."""
        if self.write_end >= 0:
            os.close(self.write_end)
            self.write_end = -1

    async def drain(self) -> None:
        while chunk := await self._stream.read(65536):
            room = max(0, self._limit - len(self.kept))
            self.kept += chunk[:room]
            self.cut += len(chunk) - min(room, len(chunk))

    def close(self) -> None:
        self.release_write_end()
        if self._transport is not None:
            self._transport.close()  # closes the file too
        else:
            self._file.close()

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


class IsolatedCodeExecutor(CodeExecutor):
    """An AutoGen ``CodeExecutor`` for ``python`` and ``bash`` blocks; the module docstring says what it isolates."""

    def __init__(
        self,
        timeout_s: float = CODE_TIMEOUT_S,
        *,
        output_limit: int = OUTPUT_LIMIT,
        user: int | Callable[[], int | None] | None = default_user,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.timeout_s = timeout_s
        self.output_limit = output_limit
        self.user = user() if callable(user) else user

    @property
    def where(self) -> str:
        """Where a block runs, in words, for the card that asks about it."""
        who = "as user `nobody`" if self.user == CODE_USER else "as a separate process"
        return (
            f"a fresh throwaway directory on the bot's host, {who}, with only PATH, HOME and LANG set (none of the "
            f"bot's secrets); stopped after {self.timeout_s:g} s; the directory is removed afterwards"
        )

    async def execute(self, language: str, code: str, cancellation_token: CancellationToken | None = None) -> Execution:
        """Run one block; ``language`` is a fence label of ``LANGUAGES`` (others raise ValueError)."""
        kind = LANGUAGES.get(language.strip().lower())
        if kind is None:
            raise ValueError(f"cannot run {language!r} code: only python and bash blocks run")
        workdir = Path(tempfile.mkdtemp(prefix="approval-bot-code-"))
        try:
            script = workdir / ("block.py" if kind == "python" else "block.sh")
            script.write_text(code, encoding="utf-8")
            if self.user is not None:
                for path in (workdir, script):
                    os.chown(path, self.user, self.user)
            return await self._run(kind, script, workdir, cancellation_token)
        finally:
            await asyncio.to_thread(_remove, workdir)

    async def _run(
        self, kind: str, script: Path, workdir: Path, cancellation_token: CancellationToken | None
    ) -> Execution:
        ids: dict[str, Any] = {}
        if self.user is not None:
            # preexec_fn rather than user=/group=/extra_groups=: uvloop (the bot's event loop) takes only the
            # former. The child drops every group, then its gid, then its uid, before it runs anything.
            ids = {"preexec_fn": _drop_privileges(self.user)}
        out, err = _Capture(self.output_limit), _Capture(self.output_limit)
        try:
            await out.open()
            await err.open()
            try:
                process = await asyncio.create_subprocess_exec(
                    *_command(kind),
                    str(script),
                    cwd=workdir,
                    env={"PATH": PATH, "HOME": str(workdir), "LANG": LANG},
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out.write_end,
                    stderr=err.write_end,
                    start_new_session=True,
                    **ids,
                )
            finally:
                out.release_write_end()
                err.release_write_end()
            timed_out = await self._wait(process, [out, err], cancellation_token)
        finally:
            out.close()
            err.close()
        exit_code = TIMED_OUT if timed_out else (process.returncode or 0)
        return Execution(kind, exit_code, out.text(), err.text(), out.cut, err.cut, timed_out)

    async def _wait(
        self, process: asyncio.subprocess.Process, captures: list[_Capture], token: CancellationToken | None
    ) -> bool:
        """Until the block exits or its time is up (True), then kill its whole group; its output read meanwhile."""
        readers = [asyncio.ensure_future(capture.drain()) for capture in captures]
        waiting = asyncio.ensure_future(process.wait())
        if token is not None:
            token.link_future(waiting)
        timed_out = False
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.shield(waiting)
        except TimeoutError:
            timed_out = True
        finally:  # also when cancelled: nothing the block started outlives it
            _kill_group(process.pid)
            await process.wait()
            _, pending = await asyncio.wait(readers, timeout=_DRAIN_S)  # one that left the group keeps a pipe open
            for reader in pending:
                reader.cancel()
            await asyncio.gather(*readers, waiting, return_exceptions=True)
        return timed_out

    async def execute_code_blocks(
        self, code_blocks: list[CodeBlock], cancellation_token: CancellationToken
    ) -> CodeResult:
        """AutoGen's interface: the blocks in order, stopping at the first that fails."""
        described: list[str] = []
        exit_code = 0
        for block in code_blocks:
            execution = await self.execute(block.language, block.code, cancellation_token)
            described.append(execution.describe(self.timeout_s))
            exit_code = execution.exit_code
            if exit_code != 0:
                break
        return CodeResult(exit_code=exit_code, output="\n\n".join(described))

    async def start(self) -> None:
        """Nothing lives between blocks: each gets its own directory and process group."""

    async def stop(self) -> None:
        """Nothing lives between blocks."""

    async def restart(self) -> None:
        """Nothing lives between blocks."""


def _command(kind: str) -> list[str]:
    if kind == "python":
        return [shutil.which("python3", path=PATH) or sys.executable]
    return [shutil.which("bash", path=PATH) or "/bin/sh"]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # nothing left in the group
        os.killpg(pgid, signal.SIGKILL)


def _remove(workdir: Path) -> None:
    """Remove the block's directory, whatever modes the code left on what it made inside."""
    try:
        for directory, subdirectories, _ in os.walk(workdir):
            for name in subdirectories:  # before the walk descends: a directory the code made unreadable
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(directory, name), stat.S_IRWXU)
        shutil.rmtree(workdir)
    except OSError as exc:
        log.warning("could not remove the code directory %s: %s", workdir, exc.strerror)
