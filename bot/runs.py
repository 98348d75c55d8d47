"""Runs in plain data the Slack surface can start and report without knowing AutoGen or the queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.approvals import Approval
from bot.prompts import MessageRef


class RunStatus(StrEnum):
    APPROVED = "approved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    DONE = "done"
    """The agent finished on its own (a tool-using run): its answer is the result."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    workflow_id: str
    workflow: str
    status: RunStatus
    output: str = ""
    detail: str = ""
    decided_by: str = ""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What ``/agent-task`` asked for, and where to tell the requester how it went (stored with the run, so any
    replica that executes it can)."""

    workflow_id: str
    workflow: str
    task: str
    requester: str
    channel: str = ""
    """Where the command was typed."""
    response_url: str = ""
    issued_ms: int = 0
    """When Slack issued ``response_url`` (epoch ms): it works 5 times within 30 minutes."""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> RunRequest:
        return cls(
            workflow_id=fields["workflow_id"],
            workflow=fields.get("workflow", ""),
            task=fields.get("task", ""),
            requester=fields.get("requester", ""),
            channel=fields.get("channel", ""),
            response_url=fields.get("response_url", ""),
            issued_ms=int(fields.get("issued_ms") or 0),
        )


class Notices(Protocol):
    """What the requester is told while a run goes on, by whichever replica executes it."""

    async def card_posted(self, run: RunRequest, approval: Approval, ref: MessageRef) -> None: ...

    async def denied(self, run: RunRequest, approval: Approval, rule: str) -> None:
        """The risk policy refused a step of the run (rule ``rule``)."""
        ...

    async def finished(self, run: RunRequest, outcome: RunOutcome) -> None: ...


StartRun = Callable[[RunRequest], Awaitable[bool]]
"""Records and queues a run (any replica's worker executes it); False if that run id exists already."""
