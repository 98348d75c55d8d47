"""How a setting's text becomes a value: ``ConfigError``, ``Secret`` and one parser per kind of value (seconds,
flags, whole numbers, choices, files), each naming its variable in the one line it raises."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from bot.approvals.chain import MIN_KEY_LENGTH as MIN_AUDIT_HMAC_KEY

MASK = "**********"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MODEL_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})

T = TypeVar("T")


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
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK


def redact_url(url: str) -> str:
    """Mask the password of a URL such as ``redis://user:pw@host``; other URLs come back unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def parse(environ: Mapping[str, str], name: str, default: T, parse: Callable[[str], T]) -> T:
    raw = environ.get(name, "").strip()
    return parse(raw) if raw else default


def seconds(name: str) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            raise ConfigError(name, f"must be a positive number of seconds, got {raw!r}")
        return seconds

    return parse


def window(name: str) -> Callable[[str], float]:
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


def flag(name: str) -> Callable[[str], bool]:
    def parse(raw: str) -> bool:
        value = raw.lower()
        if value not in TRUE | FALSE:
            raise ConfigError(name, f"must be true or false, got {raw!r}")
        return value in TRUE

    return parse


def whole_number(name: str, what: str, low: int = 0, high: int | None = None) -> Callable[[str], int]:
    """A whole number from ``low`` (to ``high``); ``what`` says what it counts, for the error."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(name, f"must be {what}, got {raw!r}") from None
        if value < low or (high is not None and value > high):
            limits = f"{low} or more" if high is None else f"between {low} and {high}"
            raise ConfigError(name, f"must be {limits}, got {raw!r}")
        return value

    return parse


def choice(name: str, options: Sequence[str]) -> Callable[[str], str]:
    """One of ``options``, in any case."""

    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ConfigError(name, f"must be {' or '.join(options)}, got {raw!r}")
        return value

    return parse


def audit_hmac_key(raw: str) -> Secret:
    # The key is a secret: the message never repeats it, not even its length.
    if len(raw) < MIN_AUDIT_HMAC_KEY or any(char.isspace() for char in raw):
        raise ConfigError(
            "AUDIT_HMAC_KEY",
            f"must be at least {MIN_AUDIT_HMAC_KEY} characters without spaces; make one with `openssl rand -hex 32`",
        )
    return Secret(raw)


def model_config(raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.suffix.lower() not in MODEL_CONFIG_SUFFIXES:
        raise ConfigError("MODEL_CONFIG", f"must name a .json, .yaml or .yml file, got {raw!r}")
    if not path.is_file():
        raise ConfigError("MODEL_CONFIG", f"names {raw!r}, which does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ConfigError("MODEL_CONFIG", f"names {raw!r}, which this process cannot read")
    return path


def log_level(raw: str) -> str:
    level = raw.upper()
    level = "WARNING" if level == "WARN" else level
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level
