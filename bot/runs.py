"""How a workflow run ended, in plain data the Slack surface can report without knowing AutoGen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum


class RunStatus(StrEnum):
    APPROVED = "approved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    workflow_id: str
    workflow: str
    status: RunStatus
    output: str = ""
    detail: str = ""
    decided_by: str = ""


Reporter = Callable[[RunOutcome], Awaitable[None]]
"""Tells the requester how their run ended."""

StartWorkflow = Callable[[str, str, str, Reporter, str], None]
"""``start(workflow, task, requester, report, workflow_id)``: starts a run in the background at once."""
