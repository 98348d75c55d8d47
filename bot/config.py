"""Settings and ``load_settings(environ)``: the only module that reads configuration.

Every value is validated and normalised here, once. A bad value raises ``ConfigError`` with one plain line that
names the variable and says what to do; a secret's value never appears in that line, in a ``repr`` or in a log.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from bot.approvals.chain import MIN_KEY_LENGTH as MIN_AUDIT_HMAC_KEY

logger = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_APPROVALS_CHANNEL = "#approvals"
DEFAULT_APPROVAL_TIMEOUT = 3600.0
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MODEL_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
"""A Slack user ID (``U…``, or ``W…`` on Enterprise Grid)."""
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
"""A Slack user group ID (``S…``), resolved to its members with ``usergroups.users.list``."""
DEFAULT_RETENTION = 7 * 24 * 3600.0
DEFAULT_RUN_LEASE = 15.0
DEFAULT_CARD_LEASE = 30.0
DEFAULT_OPS_DB = Path("ops.sqlite3")
DEFAULT_CODE_TIMEOUT = 60.0
DEFAULT_MAX_REVISIONS = 5
DEFAULT_ASK_AGAIN_WINDOW = 24 * 3600.0
DEFAULT_STANDING_TIMEBOX = 15 * 60.0
DEFAULT_AUDIT_RETENTION = 90 * 24 * 3600.0
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^[^\s#<>&|@,.]{1,80}$")
_MASK = "**********"
_NO_ADDRESSES: tuple[tuple[str, int], ...] = ()
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

_T = TypeVar("_T")


class ConfigError(ValueError):
    """A configuration variable is missing or wrong. ``str(error)`` is one line fit to show a person."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True, repr=False)
class Secret:
    """A string that hides itself from ``repr``, ``str`` and f-strings; call ``get()`` for the value."""

    _value: str = field(repr=False)

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Validated, normalised configuration. Build it with ``load_settings``."""

    slack_bot_token: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    redis_url: str = DEFAULT_REDIS_URL
    approvals_channel: str = DEFAULT_APPROVALS_CHANNEL
    approvers: frozenset[str] = frozenset()
    approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT
    mention_approvers: bool = True
    run_lease: float = DEFAULT_RUN_LEASE
    """Seconds a replica holds a run without renewing before another replica takes the run over."""
    retention: float = DEFAULT_RETENTION
    """Seconds a decided approval's record stays readable (and its card's buttons answer "already decided")."""
    audit_retention: float = DEFAULT_AUDIT_RETENTION
    """Seconds audit entries (what was asked, shown and decided) are kept."""
    audit_hmac_key: Secret | None = None
    """``AUDIT_HMAC_KEY``: seals the audit chains so that nobody without it can rewrite them (never sent to Redis)."""
    model_config: Path | None = None
    openai_api_key: Secret | None = None
    log_level: str = DEFAULT_LOG_LEVEL
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    """Sentinel addresses (``REDIS_SENTINELS``); with them, Redis is the master of ``redis_sentinel_service``."""
    redis_sentinel_service: str | None = None
    redis_cluster_nodes: tuple[tuple[str, int], ...] = ()
    """Startup nodes of a Redis Cluster (``REDIS_CLUSTER_NODES``)."""
    ops_db: Path = DEFAULT_OPS_DB
    """The SQLite database of the ``ops`` workflow (created and seeded when missing)."""
    code_timeout: float = DEFAULT_CODE_TIMEOUT
    """Seconds an approved code block of ``plan`` may run before its whole process group is killed."""
    policy_file: Path | None = None
    """The risk policy (``POLICY_FILE``, YAML); None: the built-in default (``bot.approvals.policy``)."""
    health_port: int | None = None
    """``HEALTH_PORT``: serve ``/healthz`` and ``/metrics`` there (0 picks a free port); None: no such server."""
    health_host: str = "0.0.0.0"
    """``HEALTH_HOST``: where that server listens (every interface by default, for containers)."""
    log_format: str = "text"
    """``LOG_FORMAT``: ``text`` lines, or ``json`` objects (one per line, with the run's and approval's ids)."""
    standing_timebox: float = DEFAULT_STANDING_TIMEBOX
    """``STANDING_TIMEBOX``: seconds a time-boxed standing approval lasts (0: no standing approvals at all)."""
    ask_again_window: float = DEFAULT_ASK_AGAIN_WINDOW
    """``ASK_AGAIN_WINDOW``: seconds after a run expired during which an approver may ask its step again (0: never)."""
    max_revisions: int = DEFAULT_MAX_REVISIONS
    """``MAX_REVISIONS``: how many revisions in a row a person may ask for before the run ends."""
    self_approval: bool = True
    """``SELF_APPROVAL=allow|deny``: whether the person who started a run may approve its requests (a policy rule
    may say otherwise for the requests it matches)."""
    card_lease: float = DEFAULT_CARD_LEASE
    """``CARD_LEASE``: seconds a replica has to post the card an asker outside the bot requested before another
    replica takes the request over."""
    remind_after: float | None = None
    """``REMIND_AFTER``: seconds after a card is posted when, still pending, it gets one reminder in its thread."""
    escalate_after: float | None = None
    """``ESCALATE_AFTER``: seconds after a card is posted when, still pending, it goes to ``escalate_to``."""
    escalate_to: str | None = None
    """``ESCALATE_TO``: a channel (``C…``/``G…``), a user (``U…``/``W…``, by DM) or a user group (``S…``,
    mentioned in the approvals channel)."""

    @property
    def redis_topology(self) -> str:
        """``server`` (REDIS_URL names the server), ``sentinel`` or ``cluster``.

        With Sentinel or Cluster, REDIS_URL's host and port are not used; its scheme (``rediss://`` for TLS),
        username, password and database (Sentinel only; a cluster has only database 0) still apply to the Redis
        servers. The sentinels themselves are reached without a password."""
        if self.redis_sentinels:
            return "sentinel"
        return "cluster" if self.redis_cluster_nodes else "server"

    @property
    def redis_where(self) -> str:
        """Where Redis is, fit for logs and messages (no password)."""
        if self.redis_sentinels:
            return f"Sentinel service {self.redis_sentinel_service} via {_addresses(self.redis_sentinels)}"
        if self.redis_cluster_nodes:
            return f"Redis Cluster via {_addresses(self.redis_cluster_nodes)}"
        return self.redis_url_redacted

    @property
    def approvals_channel_is_id(self) -> bool:
        """True for a channel ID (``C…``/``G…``), False for a ``#name`` that must be resolved first."""
        return not self.approvals_channel.startswith("#")

    @property
    def approvals_channel_name(self) -> str | None:
        """The channel name without ``#`` (as ``conversations.list`` reports it), or None for an ID."""
        return None if self.approvals_channel_is_id else self.approvals_channel[1:]

    @property
    def redis_url_redacted(self) -> str:
        """``redis_url`` with any password masked, fit for logs."""
        return redact_url(self.redis_url)

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]

    @property
    def approver_users(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if USER_ID.match(a))

    @property
    def approver_groups(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if USERGROUP_ID.match(a))

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["redis_url"] = self.redis_url_redacted
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value in shown.items()) + ")"


def load_settings(environ: Mapping[str, str], *, require_slack: bool = True) -> Settings:
    """Validate and normalise ``environ`` into ``Settings``; raise ``ConfigError`` naming the first bad variable.

    ``require_slack=False`` (demo, doctor, tests) makes the two Slack tokens optional; if set they are still checked.
    Empty values count as unset.
    """
    redis_url = _parse(environ, "REDIS_URL", DEFAULT_REDIS_URL, _redis_url)
    sentinels = _parse(environ, "REDIS_SENTINELS", _NO_ADDRESSES, _addresses_of("REDIS_SENTINELS", 26379))
    service = _parse(environ, "REDIS_SENTINEL_SERVICE", None, _sentinel_service)
    cluster_nodes = _parse(environ, "REDIS_CLUSTER_NODES", _NO_ADDRESSES, _addresses_of("REDIS_CLUSTER_NODES", 6379))
    _check_topology(redis_url, sentinels, service, cluster_nodes)
    remind_after, escalate_after, escalate_to = _escalation(environ)
    return Settings(
        slack_bot_token=_token(environ, "SLACK_BOT_TOKEN", require=require_slack),
        slack_app_token=_token(environ, "SLACK_APP_TOKEN", require=require_slack),
        slack_api_url=_parse(environ, "SLACK_API_URL", DEFAULT_SLACK_API_URL, _slack_api_url),
        redis_url=redis_url,
        approvals_channel=_parse(environ, "APPROVALS_CHANNEL", DEFAULT_APPROVALS_CHANNEL, _approvals_channel),
        approvers=_parse(environ, "APPROVERS", frozenset(), _approvers),
        approval_timeout=_parse(environ, "APPROVAL_TIMEOUT", DEFAULT_APPROVAL_TIMEOUT, _approval_timeout),
        mention_approvers=_parse(environ, "MENTION_APPROVERS", True, _flag("MENTION_APPROVERS")),
        run_lease=_parse(environ, "RUN_LEASE", DEFAULT_RUN_LEASE, _seconds("RUN_LEASE")),
        card_lease=_parse(environ, "CARD_LEASE", DEFAULT_CARD_LEASE, _seconds("CARD_LEASE")),
        retention=_parse(environ, "RETENTION", DEFAULT_RETENTION, _seconds("RETENTION")),
        audit_retention=_parse(environ, "AUDIT_RETENTION", DEFAULT_AUDIT_RETENTION, _seconds("AUDIT_RETENTION")),
        audit_hmac_key=_parse(environ, "AUDIT_HMAC_KEY", None, _audit_hmac_key),
        model_config=_parse(environ, "MODEL_CONFIG", None, _model_config),
        openai_api_key=_parse(environ, "OPENAI_API_KEY", None, Secret),
        log_level=_parse(environ, "LOG_LEVEL", DEFAULT_LOG_LEVEL, _log_level),
        redis_sentinels=sentinels,
        redis_sentinel_service=service,
        redis_cluster_nodes=cluster_nodes,
        ops_db=_parse(environ, "OPS_DB", DEFAULT_OPS_DB, Path),
        code_timeout=_parse(environ, "CODE_TIMEOUT", DEFAULT_CODE_TIMEOUT, _seconds("CODE_TIMEOUT")),
        policy_file=_parse(environ, "POLICY_FILE", None, Path),
        self_approval=_parse(environ, "SELF_APPROVAL", True, _self_approval),
        max_revisions=_parse(environ, "MAX_REVISIONS", DEFAULT_MAX_REVISIONS, _max_revisions),
        ask_again_window=_parse(environ, "ASK_AGAIN_WINDOW", DEFAULT_ASK_AGAIN_WINDOW, _window("ASK_AGAIN_WINDOW")),
        standing_timebox=_parse(environ, "STANDING_TIMEBOX", DEFAULT_STANDING_TIMEBOX, _window("STANDING_TIMEBOX")),
        health_port=_parse(environ, "HEALTH_PORT", None, _port),
        health_host=_parse(environ, "HEALTH_HOST", "0.0.0.0", str.strip),
        log_format=_parse(environ, "LOG_FORMAT", "text", _log_format),
        remind_after=remind_after,
        escalate_after=escalate_after,
        escalate_to=escalate_to,
    )


def load_dotenv_file(path: str | os.PathLike[str] = ".env", environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The real environment (``environ``, default ``os.environ``) laid over the ``.env`` file at ``path``.

    The real environment wins. A missing file is not an error: the result is then just the environment.
    """
    base = dict(os.environ if environ is None else environ)
    if not Path(path).is_file():
        return base
    mode = Path(path).stat().st_mode & 0o777
    if mode & 0o077:
        logger.warning(
            "%s holds secrets and is readable by other users (mode %o): run `chmod 600 %s`, or code the bot runs"
            " as another user may read it",
            path,
            mode,
            path,
        )
    from_file = {key: value for key, value in dotenv_values(path).items() if value is not None}
    logger.debug("read %d variables from %s", len(from_file), path)
    return from_file | base


def redact_url(url: str) -> str:
    """Mask the password of a URL such as ``redis://user:pw@host``; other URLs come back unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{_MASK}@{host}"))


def _parse(environ: Mapping[str, str], name: str, default: _T, parse: Callable[[str], _T]) -> _T:
    raw = environ.get(name, "").strip()
    return parse(raw) if raw else default


_TOKEN_KINDS = {
    "SLACK_BOT_TOKEN": ("xoxb-", "the bot token (xoxb-...) from your Slack app's OAuth & Permissions page"),
    "SLACK_APP_TOKEN": (
        "xapp-",
        "an app-level token (xapp-...) with the connections:write scope, from your Slack app's Basic Information page",
    ),
}
_OTHER_PREFIXES = {"xoxb-": "a bot token", "xapp-": "an app-level token", "xoxp-": "a user token"}


def _token(environ: Mapping[str, str], name: str, *, require: bool) -> Secret | None:
    prefix, what = _TOKEN_KINDS[name]
    raw = environ.get(name, "").strip()
    if not raw:
        if require:
            raise ConfigError(name, f"is missing: set it to {what}")
        return None
    if not raw.startswith(prefix):
        seen = next((kind for other, kind in _OTHER_PREFIXES.items() if raw.startswith(other)), None)
        looks = f"looks like {seen}" if seen else f"does not start with {prefix}"
        raise ConfigError(name, f"{looks}: set it to {what}")
    if len(raw) == len(prefix) or any(char.isspace() for char in raw):
        raise ConfigError(name, f"is not a valid token: set it to {what}, copied whole")
    return Secret(raw)


def _slack_api_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("SLACK_API_URL", "must be an http(s) URL such as https://slack.com/api/")
    if parts.query or parts.fragment:
        raise ConfigError(
            "SLACK_API_URL", "must not have a query or fragment; use a base URL such as https://slack.com/api/"
        )
    # slack-sdk joins method names with urljoin: without the trailing slash, ".../api" + "chat.postMessage" drops /api.
    return raw if raw.endswith("/") else raw + "/"


def _redis_url(raw: str) -> str:
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


def _addresses_of(name: str, default_port: int) -> Callable[[str], tuple[tuple[str, int], ...]]:
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


def _sentinel_service(raw: str) -> str:
    if not _SERVICE_NAME.match(raw):
        raise ConfigError("REDIS_SENTINEL_SERVICE", f"{raw!r} is not a Sentinel master name such as mymaster")
    return raw


def _check_topology(
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
    if cluster and _url_db(url) not in (None, 0):
        raise ConfigError("REDIS_URL", "names a database other than 0, which Redis Cluster does not have")


def _url_db(url: str) -> int | None:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else None


def _addresses(addresses: tuple[tuple[str, int], ...]) -> str:
    return ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in addresses)


def _approvals_channel(raw: str) -> str:
    if _CHANNEL_ID.match(raw):
        return raw
    name = raw.removeprefix("#").lower()
    if not _CHANNEL_NAME.match(name):
        raise ConfigError(
            "APPROVALS_CHANNEL",
            f"{raw!r} is neither a channel ID (C... or G...) nor a channel name such as #approvals",
        )
    return "#" + name


def _escalation(environ: Mapping[str, str]) -> tuple[float | None, float | None, str | None]:
    """``REMIND_AFTER``, ``ESCALATE_AFTER`` and ``ESCALATE_TO``, both delays counted from the card's posting: an
    escalation needs somewhere to go and comes after the reminder."""
    remind = _parse(environ, "REMIND_AFTER", None, _seconds("REMIND_AFTER"))
    escalate = _parse(environ, "ESCALATE_AFTER", None, _seconds("ESCALATE_AFTER"))
    to = _parse(environ, "ESCALATE_TO", None, _escalate_to)
    if escalate is not None and to is None:
        raise ConfigError(
            "ESCALATE_TO", "is missing: ESCALATE_AFTER needs a channel, user or user group ID to escalate to"
        )
    if to is not None and escalate is None:
        raise ConfigError(
            "ESCALATE_AFTER", "is missing: set the seconds after which a pending card goes to ESCALATE_TO"
        )
    if remind is not None and escalate is not None and escalate <= remind:
        raise ConfigError(
            "ESCALATE_AFTER",
            f"must be more than REMIND_AFTER ({remind:g} s): both count from the card's posting, and the reminder"
            " comes first",
        )
    return remind, escalate, to


def _escalate_to(raw: str) -> str:
    if _CHANNEL_ID.match(raw) or USER_ID.match(raw) or USERGROUP_ID.match(raw):
        return raw
    raise ConfigError(
        "ESCALATE_TO",
        f"{raw!r} is not a channel ID (C... or G...), a member ID (U... or W...) or a user group ID (S...)",
    )


def _approvers(raw: str) -> frozenset[str]:
    ids = [item.strip() for item in raw.split(",") if item.strip()]
    for user_id in ids:
        if not USER_ID.match(user_id) and not USERGROUP_ID.match(user_id):
            raise ConfigError(
                "APPROVERS",
                f"has {user_id!r}, which is neither a Slack member ID (U... or W...) nor a user group ID (S...); "
                "list IDs separated by commas, or leave it empty to let anyone decide",
            )
    return frozenset(ids)


def _seconds(name: str) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            raise ConfigError(name, f"must be a positive number of seconds, got {raw!r}")
        return seconds

    return parse


_approval_timeout = _seconds("APPROVAL_TIMEOUT")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(name: str) -> Callable[[str], bool]:
    def parse(raw: str) -> bool:
        value = raw.lower()
        if value not in _TRUE | _FALSE:
            raise ConfigError(name, f"must be true or false, got {raw!r}")
        return value in _TRUE

    return parse


def _port(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError("HEALTH_PORT", f"must be a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise ConfigError("HEALTH_PORT", f"must be between 0 and 65535, got {raw!r}")
    return value


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ConfigError("LOG_FORMAT", f"must be text or json, got {raw!r}")
    return value


def _window(name: str) -> Callable[[str], float]:
    """Seconds, where 0 turns the feature off."""

    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(name, f"must be a number of seconds, got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ConfigError(name, f"must be 0 (off) or a positive number of seconds, got {raw!r}")
        return value

    return parse


def _max_revisions(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError("MAX_REVISIONS", f"must be a whole number of revisions, got {raw!r}") from None
    if value < 0:
        raise ConfigError("MAX_REVISIONS", f"must be 0 or more, got {raw!r}")
    return value


def _self_approval(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("allow", "deny"):
        raise ConfigError("SELF_APPROVAL", f"must be allow or deny, got {raw!r}")
    return value == "allow"


def _audit_hmac_key(raw: str) -> Secret:
    # The key is a secret: the message never repeats it, not even its length.
    if len(raw) < MIN_AUDIT_HMAC_KEY or any(char.isspace() for char in raw):
        raise ConfigError(
            "AUDIT_HMAC_KEY",
            f"must be at least {MIN_AUDIT_HMAC_KEY} characters without spaces; make one with `openssl rand -hex 32`",
        )
    return Secret(raw)


def _model_config(raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.suffix.lower() not in MODEL_CONFIG_SUFFIXES:
        raise ConfigError("MODEL_CONFIG", f"must name a .json, .yaml or .yml file, got {raw!r}")
    if not path.is_file():
        raise ConfigError("MODEL_CONFIG", f"names {raw!r}, which does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ConfigError("MODEL_CONFIG", f"names {raw!r}, which this process cannot read")
    return path


def _log_level(raw: str) -> str:
    level = raw.upper()
    level = "WARNING" if level == "WARN" else level
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level
