"""A real Redis Sentinel setup and a real Redis Cluster, started from Debian's ``redis-server`` on free loopback
ports in temp dirs (the session fixtures in ``test_store_topology.py`` use them).

- ``SentinelSetup``: one master, one replica, one sentinel (quorum 1, so ``SENTINEL FAILOVER`` needs no vote).
- ``ClusterSetup``: three masters, no replicas, all 16,384 slots assigned by ``redis-cli --cluster create``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
import redis

from tests.redis_server import free_port

SERVICE = "mymaster"
_START_S = 15.0


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run scripts/test.sh, which installs redis-server")
    return path


def available() -> str | None:
    """None if the binaries are there, else why the topology tests cannot run."""
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    return f"{', '.join(missing)} not installed (apt-get install redis-server)" if missing else None


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 >= 65536:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _await(
    ready: Callable[[], bool], what: str, processes: list[subprocess.Popen[bytes]], timeout_s: float = _START_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError(f"a redis process exited while waiting for {what}")
        try:
            if ready():
                return
        except (redis.ConnectionError, redis.ResponseError, redis.BusyLoadingError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not happen within {timeout_s:.0f} s")


class _Processes:
    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = str(self.dir / f"{name}.log")
        process = subprocess.Popen(
            [_binary("redis-server"), *args, "--logfile", log],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def processes_alive(self) -> list[subprocess.Popen[bytes]]:
        """The processes not stopped on purpose (a test may kill one)."""
        return [process for process in self.processes if process.returncode is None]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _answers(node: redis.Redis) -> Callable[[], bool]:
    return lambda: bool(node.ping())


def _cluster_ok(node: redis.Redis) -> Callable[[], bool]:
    return lambda: bool(node.cluster("info")["cluster_state"] == "ok")


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=5)


FAILOVER_S = 60.0
"""How long a demoted master may take to replicate from the new one: the sentinel reconfigures it after the
promotion, and on a loaded machine (the whole suite running) that took over 15 s once."""


class SentinelSetup:
    def __init__(self) -> None:
        self._procs = _Processes("redis-sentinel-")
        self.data_ports = [free_port(), free_port()]
        self.sentinel_port = free_port()

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        return (("127.0.0.1", self.sentinel_port),)

    def start(self) -> None:
        first, second = self.data_ports
        for port in self.data_ports:
            node_dir = self._procs.dir / str(port)
            node_dir.mkdir()
            extra = ["--replicaof", "127.0.0.1", str(first)] if port == second else []
            self._procs.spawn(
                str(port), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                "--save", "", "--appendonly", "no", *extra,
                "--min-replicas-to-write", "1", "--min-replicas-max-lag", "10",
            )  # fmt: skip
        with _client(second) as replica:
            _await(
                lambda: replica.info("replication").get("master_link_status") == "up",
                "replication",
                self._procs.processes,
            )
        conf = self._procs.dir / "sentinel.conf"
        conf.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self._procs.dir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {first} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 2000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        self._procs.spawn("sentinel", str(conf), "--sentinel")
        with _client(self.sentinel_port) as sentinel:
            _await(lambda: self._replica_ready(sentinel), "the sentinel seeing the replica", self._procs.processes)

    @staticmethod
    def _replica_ready(sentinel: redis.Redis) -> bool:
        replicas = sentinel.sentinel_slaves(SERVICE)
        return len(replicas) == 1 and replicas[0].get("master-link-status") == "ok" and not replicas[0]["is_sdown"]

    def master_port(self) -> int:
        with _client(self.sentinel_port) as sentinel:
            _host, port = sentinel.sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def flush(self) -> None:
        with _client(self.master_port()) as master:
            master.flushall()

    def failover(self) -> int:
        """``SENTINEL FAILOVER``; returns once it is over: the sentinel names the other server as master, and the
        old master replicates from it (the masters refuse writes without a replica: ``min-replicas-to-write 1``)."""
        old = self.master_port()
        new = next(port for port in self.data_ports if port != old)
        with _client(new) as replica:
            _await(
                lambda: replica.info("replication").get("master_link_status") == "up",
                "replica in sync",
                self._procs.processes,
            )
        with _client(self.sentinel_port) as sentinel:
            _await(lambda: self._failover_started(sentinel), "the sentinel accepting FAILOVER", self._procs.processes)
        _await(lambda: self.master_port() == new, "the failover", self._procs.processes, FAILOVER_S)
        with _client(new) as master:
            _await(lambda: master.info("replication")["role"] == "master", "the new master", self._procs.processes)
        with _client(old) as demoted:
            _await(
                lambda: demoted.info("replication").get("master_link_status") == "up",
                "the old master replicating from the new one",
                self._procs.processes,
                FAILOVER_S,
            )
        return new

    @staticmethod
    def _failover_started(sentinel: redis.Redis) -> bool:
        try:
            return bool(sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE))  # type: ignore[no-untyped-call]
        except redis.ResponseError as exc:
            if "NOGOODSLAVE" in str(exc):  # the sentinel has not refreshed the replica's state yet
                return False
            raise

    def close(self) -> None:
        self._procs.close()


class ClusterSetup:
    def __init__(self, nodes: int = 3) -> None:
        self._procs = _Processes("redis-cluster-")
        self.ports = [_cluster_port() for _ in range(nodes)]
        self.replica_ports: list[int] = []
        self._by_port: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def nodes(self) -> tuple[tuple[str, int], ...]:
        return tuple(("127.0.0.1", port) for port in self.ports)

    def _spawn(self, port: int) -> None:
        node_dir = self._procs.dir / str(port)
        node_dir.mkdir(exist_ok=True)
        self._by_port[port] = self._procs.spawn(
            str(port), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
            "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
            "--cluster-config-file", str(node_dir / "nodes.conf"), "--cluster-node-timeout", "2000",
        )  # fmt: skip
        with _client(port) as node:
            _await(_answers(node), f"node {port}", self._procs.processes)

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [_binary("redis-cli"), "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        for port in self.ports:
            with _client(port) as node:
                _await(_cluster_ok(node), f"cluster ok on {port}", self._procs.processes)

    def add_replica(self, master_port: int) -> int:
        """Start a node that replicates the master on ``master_port``; returns its port once it is in sync."""
        port = _cluster_port()
        self._spawn(port)
        with _client(master_port) as master:
            master_id = master.execute_command("CLUSTER", "MYID")  # type: ignore[no-untyped-call]
        with _client(port) as replica:
            replica.execute_command("CLUSTER", "MEET", "127.0.0.1", str(master_port))  # type: ignore[no-untyped-call]
            _await(
                lambda: master_id in replica.execute_command("CLUSTER", "NODES"),
                "the replica meeting the cluster",
                self._procs.processes,
            )  # type: ignore[no-untyped-call]
            replica.execute_command("CLUSTER", "REPLICATE", master_id)  # type: ignore[no-untyped-call]
            _await(
                lambda: replica.info("replication").get("master_link_status") == "up",
                "the replica in sync",
                self._procs.processes,
            )
        for known in [*self.ports, port]:
            with _client(known) as node:
                _await(lambda: _knows_replica(node, port), f"{known} seeing the replica", self._procs.processes)
        self.replica_ports.append(port)
        return port

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port`` (no shutdown)."""
        process = self._by_port[port]
        process.kill()
        process.wait(timeout=10)

    def await_master(self, port: int, timeout_s: float = FAILOVER_S) -> None:
        """Until the node on ``port`` is a master that serves slots and the cluster is ok again."""
        with _client(port) as node:
            _await(
                lambda: node.info("replication")["role"] == "master",
                f"{port} promoted",
                self._procs.processes_alive(),
                timeout_s,
            )
            _await(_cluster_ok(node), "the cluster ok again", self._procs.processes_alive(), timeout_s)

    def flush(self) -> None:
        for port in self.ports:
            with _client(port) as node:
                node.flushall()

    def slot_owner(self, slot: int) -> int:
        """The port of the master serving ``slot``."""
        with _client(self.ports[0]) as node:
            for start, end, master, *_replicas in node.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(master[1])
        raise LookupError(slot)

    def client(self, port: int) -> redis.Redis:
        return _client(port)

    def close(self) -> None:
        self._procs.close()


def _knows_replica(node: redis.Redis, port: int) -> bool:
    lines = node.execute_command("CLUSTER", "NODES").splitlines()  # type: ignore[no-untyped-call]
    return any(f"127.0.0.1:{port}@" in line and "slave" in line for line in lines)


class _Startable(Protocol):
    def start(self) -> None: ...

    def close(self) -> None: ...


Setup = TypeVar("Setup", bound=_Startable)


def _running(make: Callable[[], Setup], what: str) -> Iterator[Setup]:
    """Start a setup for a fixture and close it after (skipped, saying why, where its servers cannot run)."""
    why = available()
    if why:
        pytest.skip(f"{what} tests need real servers: {why}")
    setup = make()
    try:
        setup.start()
        yield setup
    finally:
        setup.close()


@pytest.fixture(scope="session")
def sentinel_setup() -> Iterator[SentinelSetup]:
    """One master, one replica and a sentinel for the session (about 5 s to start)."""
    yield from _running(SentinelSetup, "Sentinel")


@pytest.fixture(scope="session")
def cluster_setup() -> Iterator[ClusterSetup]:
    """A 3-master Redis Cluster for the session (about 3 s to start)."""
    yield from _running(ClusterSetup, "Cluster")


@pytest.fixture
def own_cluster() -> Iterator[ClusterSetup]:
    """A 3-master cluster of the test's own, which it may kill nodes of or fail over (about 3 s to start)."""
    yield from _running(ClusterSetup, "Cluster")


@pytest.fixture
def sentinel(sentinel_setup: SentinelSetup) -> SentinelSetup:
    """The session's Sentinel setup, its current master flushed."""
    sentinel_setup.flush()
    return sentinel_setup


@pytest.fixture
def cluster(cluster_setup: ClusterSetup) -> ClusterSetup:
    """The session's cluster, every master flushed."""
    cluster_setup.flush()
    return cluster_setup
