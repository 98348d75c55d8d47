"""Pure data shapes of the approval engine: no I/O here."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum

_WORKFLOW_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class State(StrEnum):
    """Where an approval is in its life. Only ``PENDING`` can change, and only once."""

    PENDING = "pending"
    APPROVED = "approved"
    REVISED = "revised"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Outcome(StrEnum):
    """What a human (or the workflow itself) can decide. Expiry is not a choice, so it is not here."""

    APPROVED = "approved"
    REVISED = "revised"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ApprovalKey:
    """What makes creation idempotent: the same workflow asking at the same step gets the same approval."""

    workflow_id: str
    step: int
    attempt: int = 0
    """Bumped when a run asks something else at a step than it asked before (``digest`` differs): the old
    approval is superseded, never answered with its decision."""

    def __post_init__(self) -> None:
        if not _WORKFLOW_ID.match(self.workflow_id):
            raise ValueError(f"workflow_id must match {_WORKFLOW_ID.pattern}, got {self.workflow_id!r}")
        if self.step < 0:
            raise ValueError(f"step must be >= 0, got {self.step}")
        if self.attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {self.attempt}")

    @property
    def approval_id(self) -> str:
        base = f"{self.workflow_id}.{self.step}"
        return f"{base}-{self.attempt}" if self.attempt else base


@dataclass(frozen=True, slots=True)
class Terms:
    """What an approval's asker fixed at creation, enforced and audited by the engine: how many different people
    must approve, whether the requester may be one of them, and what kind of request it is (for the audit)."""

    quorum: int = 1
    """Approvals from this many different people decide it (``ask_two``: 2); one Revise or Cancel ends it."""
    self_approval: bool = True
    """False: the requester's own Approve is refused (and audited)."""
    kind: str = ""
    """``draft``, ``plan``, ``code`` or ``tool``."""
    tool: str = ""
    args: str = ""
    """A tool call's arguments as canonical JSON ("" for none), as shown."""
    rule: str = ""
    """The policy rule that asked (``default`` when none matched)."""
    risk: str = ""
    shadow: str = ""
    """What a shadow rule would have done without a person (``auto`` or ``deny``); "" for other rules."""

    def __post_init__(self) -> None:
        if self.quorum < 1:
            raise ValueError(f"quorum must be >= 1, got {self.quorum}")


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval record as Redis holds it. Times are milliseconds since the epoch, read from Redis's clock."""

    id: str
    workflow_id: str
    step: int
    state: State
    prompt: str
    requester: str
    workflow: str
    created_ms: int
    deadline_ms: int
    channel: str = ""
    ts: str = ""
    decider: str = ""
    decided_ms: int = 0
    feedback: str = ""
    shown: str = ""
    """The state the card last showed (``mark_shown``); ``pending`` once a card is attached, "" before."""
    digest: str = ""
    """sha256 of what it asks about (``ask_digest``); a run asking at the same step with another digest does not
    get this approval's decision."""
    approved_by: tuple[str, ...] = ()
    """Who approved so far, in order: with a quorum above 1 it fills one person at a time while pending."""
    terms: Terms = Terms()

    @property
    def pending(self) -> bool:
        return self.state is State.PENDING

    @property
    def waited_ms(self) -> int:
        """How long the human took, or 0 while pending."""
        return self.decided_ms - self.created_ms if self.decided_ms else 0

    def with_decision(
        self, state: State, decider: str, decided_ms: int, feedback: str, approved_by: tuple[str, ...] = ()
    ) -> Approval:
        """This record as a decision message describes it (``dataclasses.replace`` costs several times more, and
        10,000 waits wake in one burst)."""
        return Approval(
            id=self.id,
            workflow_id=self.workflow_id,
            step=self.step,
            state=state,
            prompt=self.prompt,
            requester=self.requester,
            workflow=self.workflow,
            created_ms=self.created_ms,
            deadline_ms=self.deadline_ms,
            channel=self.channel,
            ts=self.ts,
            decider=decider,
            decided_ms=decided_ms,
            feedback=feedback,
            shown=self.shown,
            digest=self.digest,
            approved_by=approved_by or self.approved_by,
            terms=self.terms,
        )

    @classmethod
    def from_values(cls, values: list[str | bytes | None]) -> Approval:
        """From the values of ``RECORD_FIELDS`` in that order (``HMGET``; a missing field is None)."""
        return cls.from_hash(
            {name: as_text(value) for name, value in zip(RECORD_FIELDS, values, strict=True) if value is not None}
        )

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> Approval:
        return cls(
            id=fields["id"],
            workflow_id=fields["workflow_id"],
            step=int(fields["step"]),
            state=State(fields["state"]),
            prompt=fields.get("prompt", ""),
            requester=fields.get("requester", ""),
            workflow=fields.get("workflow", ""),
            created_ms=int(fields["created_ms"]),
            deadline_ms=int(fields["deadline_ms"]),
            channel=fields.get("channel", ""),
            ts=fields.get("ts", ""),
            decider=fields.get("decider", ""),
            decided_ms=int(fields.get("decided_ms") or 0),
            feedback=fields.get("feedback", ""),
            shown=fields.get("shown", ""),
            digest=fields.get("digest", ""),
            approved_by=_ids(fields.get("approved_by", "")),
            terms=Terms(
                quorum=int(fields.get("quorum") or 1),
                self_approval=fields.get("self_approval", "allow") != "deny",
                kind=fields.get("kind", ""),
                tool=fields.get("tool", ""),
                args=fields.get("args", ""),
                rule=fields.get("rule", ""),
                risk=fields.get("risk", ""),
                shadow=fields.get("shadow", ""),
            ),
        )


RECORD_FIELDS = (
    "id",
    "workflow_id",
    "step",
    "state",
    "prompt",
    "requester",
    "workflow",
    "created_ms",
    "deadline_ms",
    "channel",
    "ts",
    "decider",
    "decided_ms",
    "feedback",
    "shown",
    "digest",
    "approved_by",
    "quorum",
    "self_approval",
    "kind",
    "tool",
    "args",
    "rule",
    "risk",
    "shadow",
)
"""The record's fields that make an ``Approval``: what TRANSITION answers with (its nonces and counters stay in
Redis; fewer strings to format and parse on every decision)."""


def ask_digest(kind: str, text: str, revision: int, **details: object) -> str:
    """sha256 of what an approval asks about, as canonical JSON: its kind, the text (or a tool's name and
    arguments in ``details``), and the revision number; never the rendered card, whose time left changes."""
    canonical = json.dumps(
        {"kind": kind, "text": text, "revision": revision, **details}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def prompt_digest(prompt: str) -> str:
    """The sha256 (hex) of the prompt text as stored, recorded in the audit next to the text."""
    return hashlib.sha256(prompt.encode()).hexdigest()


def _ids(csv: str) -> tuple[str, ...]:
    """A comma-separated list of ids (user ids, approval ids) as Redis holds it."""
    return tuple(item for item in csv.split(",") if item)


def as_text(value: bytes | str) -> str:
    """Redis replies arrive as bytes unless the client decodes them; accept both."""
    return value.decode() if isinstance(value, bytes) else value
