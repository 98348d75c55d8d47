"""What a workflow sees of the outside world: an input function, a model factory, and the reply vocabulary.

The input function has AutoGen's shape. What it returns starts with a verdict word (``APPROVE``, ``REVISE: ...``,
``CANCEL: ...``, ``EXPIRED: ...``) so termination conditions can test the human's decision without reading the
model's words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

InputFunc = Callable[[str, CancellationToken | None], Awaitable[str]]
ModelFactory = Callable[[], ChatCompletionClient]
"""Builds a fresh model client for one run (a replayed model then starts from its first answer each run)."""


class Verdict(StrEnum):
    APPROVE = "APPROVE"
    REVISE = "REVISE"
    CANCEL = "CANCEL"
    EXPIRED = "EXPIRED"

    @property
    def final(self) -> bool:
        """Whether the workflow stops here (only a revision continues it)."""
        return self is not Verdict.REVISE


def format_reply(verdict: Verdict, detail: str = "") -> str:
    return f"{verdict.value}: {detail}" if detail else verdict.value


def parse_reply(text: str) -> tuple[Verdict, str] | None:
    """The verdict and detail of an input-function reply, or None if ``text`` is not one."""
    head, _, detail = text.partition(":")
    try:
        verdict = Verdict(head.strip())
    except ValueError:
        return None
    return verdict, detail.strip()


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    """How a run ended: the last verdict, the last draft the agent produced, and the human's detail."""

    verdict: Verdict
    output: str
    detail: str = ""
    revisions: int = 0


class Workflow(Protocol):
    name: str
    description: str

    async def run(
        self, task: str, input_func: InputFunc, cancellation_token: CancellationToken | None = None
    ) -> WorkflowResult: ...
