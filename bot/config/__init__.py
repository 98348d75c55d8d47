"""Configuration: ``load_settings(environ)`` -> ``Settings``; the only package that reads the environment.

Every value is validated and normalised once. A bad value raises ``ConfigError`` with one plain line that names
the variable and says what to do; a secret's value never appears in that line, in a ``repr`` or in a log.
``settings`` holds the variables and their defaults; ``values``, ``slack_values`` and ``redis_values`` the parsers.
"""

from bot.config.settings import (
    DEFAULT_APPROVAL_TIMEOUT,
    DEFAULT_APPROVALS_CHANNEL,
    DEFAULT_ASK_AGAIN_WINDOW,
    DEFAULT_AUDIT_RETENTION,
    DEFAULT_CARD_LEASE,
    DEFAULT_CODE_TIMEOUT,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_REVISIONS,
    DEFAULT_OPS_DB,
    DEFAULT_REDIS_URL,
    DEFAULT_RETENTION,
    DEFAULT_RUN_LEASE,
    DEFAULT_SLACK_API_URL,
    DEFAULT_STANDING_TIMEBOX,
    Settings,
    load_dotenv_file,
    load_settings,
)
from bot.config.slack_values import USER_ID, USERGROUP_ID
from bot.config.values import LOG_LEVELS, ConfigError, Secret, redact_url

__all__ = [
    "DEFAULT_APPROVALS_CHANNEL",
    "DEFAULT_APPROVAL_TIMEOUT",
    "DEFAULT_ASK_AGAIN_WINDOW",
    "DEFAULT_AUDIT_RETENTION",
    "DEFAULT_CARD_LEASE",
    "DEFAULT_CODE_TIMEOUT",
    "DEFAULT_LOG_LEVEL",
    "DEFAULT_MAX_REVISIONS",
    "DEFAULT_OPS_DB",
    "DEFAULT_REDIS_URL",
    "DEFAULT_RETENTION",
    "DEFAULT_RUN_LEASE",
    "DEFAULT_SLACK_API_URL",
    "DEFAULT_STANDING_TIMEBOX",
    "LOG_LEVELS",
    "USERGROUP_ID",
    "USER_ID",
    "ConfigError",
    "Secret",
    "Settings",
    "load_dotenv_file",
    "load_settings",
    "redact_url",
]
