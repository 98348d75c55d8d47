"""The risk policy (tiered autonomy): ordered rules, first match wins, no match means ``ask``.

A rule matches a request by kind (``draft``, ``plan``, ``code``, ``tool``), by a glob on the tool's name, and by a
regular expression searched in the request's text (a draft's or plan's text, a code block) and, for a tool call,
in each *decoded* string argument and in the canonical JSON of the arguments. Decoded matters: in JSON text a
newline is ``\\n``, so ``...;\\nDROP TABLE`` has no word boundary before ``DROP`` and a pattern searched only in
the JSON misses it. A rule marked ``shadow: true`` (``auto`` or ``deny`` only) asks a person instead and records what
it would have done, so ``approval-bot audit --policy-report`` can show how often people agreed with it. Pure: no
I/O but reading the file in ``load_policy``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from bot.approvals.models import Terms


class Action(StrEnum):
    AUTO = "auto"
    """Runs at once, audited as automatic; no card."""
    ASK = "ask"
    """One approver."""
    ASK_TWO = "ask_two"
    """Two different approvers."""
    DENY = "deny"
    """Never runs; the agent reads a refusal; audited; the requester is told."""


KINDS = frozenset({"draft", "plan", "code", "tool", "request"})
"""``request``: a text request from outside the bot (``bot.approvals.requests``: a script, an MCP client)."""
FIELDS = frozenset({"name", "kind", "tool", "pattern", "action", "risk", "self_approval", "shadow"})
SHADOWABLE = (Action.AUTO, Action.DENY)
"""A shadow rule (``shadow: true``) asks a person instead, recording what it would have done: only an ``auto`` or
a ``deny`` rule would have done something without one."""


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the rule and the field in one line."""


@dataclass(frozen=True, slots=True)
class Request:
    """What an approval asks about, as the policy sees it."""

    kind: str
    text: str = ""
    tool: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: Action
    kind: str | None = None
    tool: str | None = None
    pattern: re.Pattern[str] | None = None
    risk: str = ""
    self_approval: bool | None = None
    """False: the requester may not approve their own request under this rule; None: the bot's default."""
    shadow: bool = False
    """True: the rule's ``auto`` or ``deny`` is only recorded (``Ruling.shadow``); a person is asked."""

    def matches(self, request: Request) -> bool:
        if self.kind is not None and request.kind != self.kind:
            return False
        if self.tool is not None and not (request.tool and fnmatch.fnmatchcase(request.tool, self.tool)):
            return False
        if self.pattern is not None:
            return any(self.pattern.search(text) for text in searched(request))
        return True


@dataclass(frozen=True, slots=True)
class Ruling:
    """The rule that matched (``default`` when none did) and what it says."""

    rule: str
    action: Action
    risk: str = ""
    self_approval: bool | None = None
    shadow: str = ""
    """A shadow rule's own action (``auto`` or ``deny``), which it would have taken; ``action`` is then ``ask``."""


DEFAULT_RULING = Ruling("default", Action.ASK)


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    digest: str
    """sha256 of the rules as canonical JSON: the bots publish it, and standing approvals are bound to it."""
    document: str = ""
    """The YAML text the rules were parsed from: what the bots publish for askers outside them
    (``published_policy.py``)."""

    def rule_for(self, request: Request) -> Ruling:
        for rule in self.rules:
            if rule.matches(request):
                if rule.shadow:  # asked, whoever reads the ruling: a shadow rule never decides
                    return Ruling(rule.name, Action.ASK, rule.risk, rule.self_approval, shadow=rule.action.value)
                return Ruling(rule.name, rule.action, rule.risk, rule.self_approval)
        return DEFAULT_RULING


def searched(request: Request) -> Iterator[str]:
    """The texts a rule's pattern is searched in: the request's text, every decoded string in the arguments
    (nested ones included), and the arguments as canonical JSON."""
    if request.text:
        yield request.text
    if request.args:
        yield from _strings(request.args)
        yield json.dumps(request.args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


SELECT = r"(?is)^\s*(select|with)\b"
"""A statement that reads (the ``ops`` tool runs such a statement on a read-only connection, so a disguised
write such as ``WITH ... DELETE`` fails there instead of running)."""

DEFAULT_POLICY_YAML = r"""
rules:
  - name: sql-ddl
    tool: run_sql
    pattern: '(?i)\b(drop|truncate|alter|create|attach|detach|pragma|vacuum|reindex)\b'
    action: deny
    risk: high
  - name: sql-several-statements
    tool: run_sql
    pattern: ';\s*[^\s"\\]'
    action: deny
    risk: high
  - name: reads
    tool: 'find_*'
    action: auto
  - name: sql-select
    tool: run_sql
    pattern: '(?is)^\s*(select|with)\b'
    action: auto
"""
"""Deny DDL and more than one statement, run reads at once, ask about everything else (no match means ask).
The several-statements pattern ignores what may follow a final ``;`` in the JSON text of the arguments (the
closing quote, an escaped newline); the decoded query is searched too, where ``;\nDROP`` is found."""


POLICY_DECIDER = "policy"
"""Decisions the policy makes are recorded as made by ``policy:<rule>``."""


def decider_for(ruling: Ruling) -> str:
    return f"{POLICY_DECIDER}:{ruling.rule}"


def denial(ruling: Ruling) -> str:
    return f"denied by the policy (rule {ruling.rule})"


def annotated(text: str, ruling: Ruling) -> str:
    """What is recorded as asked (the card's text, when a person is asked): ``text``, and the rule that answers
    or asks it (unless it is the default)."""
    if ruling.rule == DEFAULT_RULING.rule and not ruling.risk:
        return text
    risk = f", risk *{ruling.risk}*" if ruling.risk else ""
    says = {
        Action.AUTO: "approved without asking",
        Action.DENY: "refused",
        Action.ASK: "needs one approver",
        Action.ASK_TWO: "needs two different approvers",
    }[ruling.action]
    if ruling.shadow:
        would = "approved this without asking" if ruling.shadow == Action.AUTO else "refused this"
        says = f"{says} (shadow: the rule would have {would})"
    return f"{text}\n\n_Policy rule `{ruling.rule}`{risk}: {says}._"


def terms_under(ruling: Ruling, *, kind: str, tool: str, args: str, self_approval: bool) -> Terms:
    """What the engine enforces and audits for a request under ``ruling``: two different approvers for
    ``ask_two``, whether the requester may approve (the rule's word, else ``self_approval``), the kind, tool,
    arguments (canonical JSON, "" for none) and rule, and what a shadow rule would have done."""
    return Terms(
        quorum=2 if ruling.action is Action.ASK_TWO else 1,
        self_approval=self_approval if ruling.self_approval is None else ruling.self_approval,
        kind=kind,
        tool=tool,
        args=args if tool else "",
        rule=ruling.rule,
        risk=ruling.risk,
        shadow=ruling.shadow,
    )


def parse_policy(text: str, where: str = "the policy") -> Policy:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where} is not valid YAML ({_first_line(exc)})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise PolicyError(f"{where} must be a mapping with a list under 'rules'")
    rules = tuple(_rule(raw, number, where) for number, raw in enumerate(document["rules"], start=1))
    names = [rule.name for rule in rules]
    if duplicate := next((name for name in names if names.count(name) > 1), None):
        raise PolicyError(f"{where}: two rules are named '{duplicate}'; names must be unique")
    canonical = json.dumps(document["rules"], sort_keys=True, separators=(",", ":"), default=str)
    return Policy(rules, hashlib.sha256(canonical.encode()).hexdigest(), text)


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path`` (``POLICY_FILE``), or the built-in default when ``path`` is None."""
    if path is None:
        return parse_policy(DEFAULT_POLICY_YAML, "the built-in policy")
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(f"POLICY_FILE {path} cannot be read: {exc.strerror}") from exc
    return parse_policy(text, f"POLICY_FILE {path}")


def _rule(raw: object, number: int, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} rule {number}: must be a mapping of fields")
    name = raw.get("name")
    label = f"{where} rule {number}" + (f" ({name})" if isinstance(name, str) and name else "")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(f"{label}: 'name' is required")
    if "," in name:  # a rule decides as the approver ``policy:<name>``, and approvers are listed with commas
        raise PolicyError(f"{label}: 'name' may not contain a comma")
    if unknown := sorted(set(map(str, raw)) - FIELDS):
        raise PolicyError(f"{label}: unknown field '{unknown[0]}' (fields: {', '.join(sorted(FIELDS))})")
    try:
        action = Action(str(raw.get("action")))
    except ValueError:
        raise PolicyError(f"{label}: 'action' must be one of {', '.join(a.value for a in Action)}") from None
    kind = _optional_text(raw, "kind", label)
    if kind is not None and kind not in KINDS:
        raise PolicyError(f"{label}: 'kind' must be one of {', '.join(sorted(KINDS))}")
    pattern_text = _optional_text(raw, "pattern", label)
    try:
        pattern = re.compile(pattern_text) if pattern_text is not None else None
    except re.error as exc:
        raise PolicyError(f"{label}: 'pattern' is not a valid regular expression ({exc})") from None
    self_approval = _optional_text(raw, "self_approval", label)
    if self_approval not in (None, "allow", "deny"):
        raise PolicyError(f"{label}: 'self_approval' must be allow or deny")
    shadow = raw.get("shadow", False)
    if not isinstance(shadow, bool):
        raise PolicyError(f"{label}: 'shadow' must be true or false")
    if shadow and action not in SHADOWABLE:
        raise PolicyError(f"{label}: 'shadow' needs action auto or deny (an {action.value} rule asks a person already)")
    return Rule(
        name=name.strip(),
        action=action,
        kind=kind,
        tool=_optional_text(raw, "tool", label),
        pattern=pattern,
        risk=_optional_text(raw, "risk", label) or "",
        self_approval=None if self_approval is None else self_approval == "allow",
        shadow=shadow,
    )


def _optional_text(raw: dict[Any, Any], key: str, label: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise PolicyError(f"{label}: '{key}' must be a non-empty string")
    return value


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
