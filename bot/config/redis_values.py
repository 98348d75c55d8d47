"""The Redis settings' values: ``REDIS_URL``, Sentinel and Cluster addresses, and the one way of reaching Redis
they must add up to."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from bot.config.values import ConfigError

SERVICE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
NO_ADDRESSES: tuple[tuple[str, int], ...] = ()


def redis_url(raw: str) -> str:
    # The URL may hold a password, so the message never repeats it.
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError("REDIS_URL", "is not a valid URL; use e.g. redis://localhost:6379/0") from None
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ConfigError("REDIS_URL", "has no host; use e.g. redis://localhost:6379/0")
    elif parts.scheme == "unix":
        if not parts.path:
            raise ConfigError("REDIS_URL", "has no socket path; use e.g. unix:///run/redis/redis.sock")
    else:
        raise ConfigError("REDIS_URL", "must start with redis://, rediss:// or unix://")
    return raw


def addresses_of(name: str, default_port: int) -> Callable[[str], tuple[tuple[str, int], ...]]:
    example = f"host1:{default_port},host2:{default_port}"

    def parse(raw: str) -> tuple[tuple[str, int], ...]:
        addresses: list[tuple[str, int]] = []
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            host, colon, port = item.rpartition(":")
            if not colon:
                host, port = item, str(default_port)
            host = host.removeprefix("[").removesuffix("]")  # [::1]:26379
            if not host or any(char.isspace() or char in "/@" for char in host):
                raise ConfigError(name, f"has {item!r}, which is not host:port; use e.g. {example}")
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(name, f"has {item!r}, whose port is not a number from 1 to 65535")
            addresses.append((host, int(port)))
        if not addresses:
            raise ConfigError(name, f"lists no address; use e.g. {example}")
        return tuple(dict.fromkeys(addresses))

    return parse


def sentinel_service(raw: str) -> str:
    if not SERVICE_NAME.match(raw):
        raise ConfigError("REDIS_SENTINEL_SERVICE", f"{raw!r} is not a Sentinel master name such as mymaster")
    return raw


def check_topology(
    url: str, sentinels: tuple[tuple[str, int], ...], service: str | None, cluster: tuple[tuple[str, int], ...]
) -> None:
    """Exactly one way to reach Redis; REDIS_URL then only lends its scheme, credentials and database."""
    if sentinels and cluster:
        raise ConfigError("REDIS_CLUSTER_NODES", "cannot be used with REDIS_SENTINELS: set only one of them")
    if sentinels and service is None:
        raise ConfigError("REDIS_SENTINEL_SERVICE", "is missing: set it to the master name the sentinels monitor")
    if service is not None and not sentinels:
        raise ConfigError("REDIS_SENTINELS", "is missing: REDIS_SENTINEL_SERVICE needs the sentinels' host:port list")
    if (sentinels or cluster) and urlsplit(url).scheme == "unix":
        variable = "REDIS_SENTINELS" if sentinels else "REDIS_CLUSTER_NODES"
        raise ConfigError("REDIS_URL", f"cannot be a unix:// socket with {variable}; use redis:// or rediss://")
    if cluster and url_db(url) not in (None, 0):
        raise ConfigError("REDIS_URL", "names a database other than 0, which Redis Cluster does not have")


def url_db(url: str) -> int | None:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else None


def addresses(addresses: tuple[tuple[str, int], ...]) -> str:
    return ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in addresses)
