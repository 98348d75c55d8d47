"""``Settings`` and ``load_settings(environ)``: every variable the bot reads, validated and normalised once.

The parsers are in ``bot.config.values`` (kinds of value), ``slack_values`` and ``redis_values``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from dotenv import dotenv_values

from bot.config.redis_values import NO_ADDRESSES, addresses, addresses_of, check_topology, sentinel_service
from bot.config.redis_values import redis_url as redis_url_of
from bot.config.slack_values import (
    USER_ID,
    USERGROUP_ID,
    approvals_channel,
    approvers,
    escalation,
    needed_in_http_mode,
    slack_api_url,
    token,
)
from bot.config.values import (
    Secret,
    audit_hmac_key,
    choice,
    flag,
    log_level,
    model_config,
    parse,
    redact_url,
    seconds,
    whole_number,
    window,
)

logger = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_APPROVALS_CHANNEL = "#approvals"
DEFAULT_APPROVAL_TIMEOUT = 3600.0
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_RETENTION = 7 * 24 * 3600.0
DEFAULT_RUN_LEASE = 15.0
DEFAULT_CARD_LEASE = 30.0
DEFAULT_OPS_DB = Path("ops.sqlite3")
DEFAULT_CODE_TIMEOUT = 60.0
DEFAULT_MAX_REVISIONS = 5
DEFAULT_ASK_AGAIN_WINDOW = 24 * 3600.0
DEFAULT_STANDING_TIMEBOX = 15 * 60.0
DEFAULT_AUDIT_RETENTION = 90 * 24 * 3600.0


REVISIONS = "a whole number of revisions"


def port(name: str) -> Callable[[str], int]:
    return whole_number(name, "a port number", 0, 65535)


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Validated, normalised configuration. Build it with ``load_settings``."""

    slack_bot_token: Secret | None = None
    slack_app_token: Secret | None = None
    """Socket Mode's app-level token; not needed in HTTP mode."""
    slack_signing_secret: Secret | None = None
    """``SLACK_SIGNING_SECRET``: checks that HTTP requests come from Slack (required in HTTP mode)."""
    http_port: int | None = None
    """``HTTP_PORT`` (or ``run --http PORT``): HTTP mode, Slack's requests at ``/slack/events`` on this port
    instead of Socket Mode; None: Socket Mode."""
    http_host: str = "0.0.0.0"
    """``HTTP_HOST``: where HTTP mode listens (every interface by default, for containers)."""
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
            return f"Sentinel service {self.redis_sentinel_service} via {addresses(self.redis_sentinels)}"
        if self.redis_cluster_nodes:
            return f"Redis Cluster via {addresses(self.redis_cluster_nodes)}"
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
    redis_url = parse(environ, "REDIS_URL", DEFAULT_REDIS_URL, redis_url_of)
    sentinels = parse(environ, "REDIS_SENTINELS", NO_ADDRESSES, addresses_of("REDIS_SENTINELS", 26379))
    service = parse(environ, "REDIS_SENTINEL_SERVICE", None, sentinel_service)
    cluster_nodes = parse(environ, "REDIS_CLUSTER_NODES", NO_ADDRESSES, addresses_of("REDIS_CLUSTER_NODES", 6379))
    check_topology(redis_url, sentinels, service, cluster_nodes)
    http_port = parse(environ, "HTTP_PORT", None, port("HTTP_PORT"))
    remind_after, escalate_after, escalate_to = escalation(environ)
    return Settings(
        slack_bot_token=token(environ, "SLACK_BOT_TOKEN", require=require_slack),
        slack_app_token=token(environ, "SLACK_APP_TOKEN", require=require_slack and http_port is None),
        slack_signing_secret=needed_in_http_mode(
            parse(environ, "SLACK_SIGNING_SECRET", None, Secret), http=http_port is not None, require=require_slack
        ),
        http_port=http_port,
        http_host=parse(environ, "HTTP_HOST", "0.0.0.0", str.strip),
        slack_api_url=parse(environ, "SLACK_API_URL", DEFAULT_SLACK_API_URL, slack_api_url),
        redis_url=redis_url,
        approvals_channel=parse(environ, "APPROVALS_CHANNEL", DEFAULT_APPROVALS_CHANNEL, approvals_channel),
        approvers=parse(environ, "APPROVERS", frozenset(), approvers),
        approval_timeout=parse(environ, "APPROVAL_TIMEOUT", DEFAULT_APPROVAL_TIMEOUT, seconds("APPROVAL_TIMEOUT")),
        mention_approvers=parse(environ, "MENTION_APPROVERS", True, flag("MENTION_APPROVERS")),
        run_lease=parse(environ, "RUN_LEASE", DEFAULT_RUN_LEASE, seconds("RUN_LEASE")),
        card_lease=parse(environ, "CARD_LEASE", DEFAULT_CARD_LEASE, seconds("CARD_LEASE")),
        retention=parse(environ, "RETENTION", DEFAULT_RETENTION, seconds("RETENTION")),
        audit_retention=parse(environ, "AUDIT_RETENTION", DEFAULT_AUDIT_RETENTION, seconds("AUDIT_RETENTION")),
        audit_hmac_key=parse(environ, "AUDIT_HMAC_KEY", None, audit_hmac_key),
        model_config=parse(environ, "MODEL_CONFIG", None, model_config),
        openai_api_key=parse(environ, "OPENAI_API_KEY", None, Secret),
        log_level=parse(environ, "LOG_LEVEL", DEFAULT_LOG_LEVEL, log_level),
        redis_sentinels=sentinels,
        redis_sentinel_service=service,
        redis_cluster_nodes=cluster_nodes,
        ops_db=parse(environ, "OPS_DB", DEFAULT_OPS_DB, Path),
        code_timeout=parse(environ, "CODE_TIMEOUT", DEFAULT_CODE_TIMEOUT, seconds("CODE_TIMEOUT")),
        policy_file=parse(environ, "POLICY_FILE", None, Path),
        self_approval=parse(environ, "SELF_APPROVAL", "allow", choice("SELF_APPROVAL", ("allow", "deny"))) == "allow",
        max_revisions=parse(environ, "MAX_REVISIONS", DEFAULT_MAX_REVISIONS, whole_number("MAX_REVISIONS", REVISIONS)),
        ask_again_window=parse(environ, "ASK_AGAIN_WINDOW", DEFAULT_ASK_AGAIN_WINDOW, window("ASK_AGAIN_WINDOW")),
        standing_timebox=parse(environ, "STANDING_TIMEBOX", DEFAULT_STANDING_TIMEBOX, window("STANDING_TIMEBOX")),
        health_port=parse(environ, "HEALTH_PORT", None, port("HEALTH_PORT")),
        health_host=parse(environ, "HEALTH_HOST", "0.0.0.0", str.strip),
        log_format=parse(environ, "LOG_FORMAT", "text", choice("LOG_FORMAT", ("text", "json"))),
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
