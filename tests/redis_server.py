"""A real ``redis-server`` process on a free loopback port, in its own temp dir, that tests can stop, stall, kill
and restart (on the same dir and port)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import redis

Fsync = Literal["always", "everysec", "no"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, *, appendonly: bool = False, appendfsync: Fsync = "always") -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/test.sh, which installs it")
        self.binary = binary
        self.appendonly = appendonly
        self.appendfsync: Fsync = appendfsync
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.stalled = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("redis-server is not running")
        return self.process.pid

    def start(self) -> None:
        """Start (or start again after stop() or kill()) on the same dir and port; the AOF, if any, is loaded."""
        if self.process is not None:
            raise RuntimeError("redis-server is already running")
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._await(self._ping, "start")

    def stop(self) -> None:
        """A clean SHUTDOWN (the AOF, if on, is kept)."""
        if self.process is None:
            return
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync; the data dir stays for a later start()."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None
        self.stalled = False

    def stall(self) -> None:
        """SIGSTOP: the process stays, its sockets stay open and accept connections, and nothing is answered."""
        os.kill(self.pid, signal.SIGSTOP)
        self.stalled = True

    def resume(self) -> None:
        """SIGCONT after stall(); a no-op otherwise."""
        if self.stalled and self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)
        self.stalled = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def _ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.BusyLoadingError):
            return False

    def _await(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited during {what}: see {self.dir / 'redis.log'}")
            if ready():
                return
            time.sleep(0.01)
        raise RuntimeError(f"redis-server did not {what} within 10 s")
