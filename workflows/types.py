"""What a workflow sees of the outside world: an input function, a model factory, and the reply vocabulary.

The input function has AutoGen's shape. What it returns starts with a verdict word (``APPROVE``, ``REVISE: ...``,
``CANCEL: ...``, ``EXPIRED: ...``) so termination conditions can test the human's decision without reading the
model's words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import BaseTool

InputFunc = Callable[[str, CancellationToken | None], Awaitable[str]]
ModelFactory = Callable[[], ChatCompletionClient]
"""Builds a model client for one run (a replayed model then starts from its first answer each run)."""
Models = Callable[[str], ModelFactory]
"""The model factory of each role (``ROLES``): ``MODEL_CONFIG`` may give each role its own model."""

ROLES = ("draft.drafter", "plan.planner", "plan.implementer", "ops.assistant")
"""Every agent role of the workflows, as ``MODEL_CONFIG`` names them."""


def one_model(model: ModelFactory) -> Models:
    """Every role asks the same model."""
    return lambda role: model


Tool = BaseTool[Any, Any]
Preconditions = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""What a tool call expects of the world when it is approved (for example the rows it would delete), given its
arguments: shown with the call, part of what is approved, and checked again just before the call runs."""
ToolWrapper = Callable[[Tool], Tool]
"""What a workflow puts around each tool that acts on the world, so the bot can make every call run once: a
durable run records a call's result before the agent sees it and replays it when the run resumes."""


@dataclass(frozen=True, slots=True)
class Ask:
    """What a workflow asks a person about: the kind (``draft``, ``plan``, ``code``, ``tool``), the text people
    read, and for a tool call its name and arguments, so the bot's risk policy can decide without reading the
    text. ``always_ask`` keeps the policy from answering for a person (a call that may have run already)."""

    kind: str
    text: str
    tool: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    always_ask: bool = False
    preconditions: Mapping[str, Any] = field(default_factory=dict)
    """What a tool call expects when approved (``Preconditions``): part of what the approval binds."""
    editable: str = ""
    """What a person may edit before approving (the draft, the plan, the code, a tool call's arguments as JSON);
    "" for nothing. An approval with edits answers ``edited(...)``: the workflow carries on with the edit."""


@runtime_checkable
class Asking(Protocol):
    """An input function that takes the whole ``Ask`` (the bot's does: its policy reads kind, tool and args)."""

    async def ask(self, request: Ask, cancellation_token: CancellationToken | None) -> str: ...


async def ask(input_func: InputFunc, request: Ask, cancellation_token: CancellationToken | None = None) -> str:
    """Ask through ``input_func``: the whole request where it takes one, else AutoGen's ``(text, token)``."""
    if isinstance(input_func, Asking):
        return await input_func.ask(request, cancellation_token)
    return await input_func(request.text, cancellation_token)


@runtime_checkable
class AskingMany(Protocol):
    """An input function that can ask several things at once (the calls of one model turn): people see them
    together, on one card where they fit, and decide each on its own. Replies come back in the requests' order."""

    async def ask_many(self, requests: Sequence[Ask], cancellation_token: CancellationToken | None) -> list[str]: ...


async def ask_many(
    input_func: InputFunc, requests: Sequence[Ask], cancellation_token: CancellationToken | None = None
) -> list[str]:
    """Ask ``requests`` together where ``input_func`` can, else one after another; replies in the same order."""
    if isinstance(input_func, AskingMany):
        return await input_func.ask_many(requests, cancellation_token)
    return [await ask(input_func, request, cancellation_token) for request in requests]


@runtime_checkable
class Checkpointing(Protocol):
    """An input function that keeps a run's state: a durable run stores it with the step, before the card."""

    async def checkpoint(self, state: Mapping[str, Any]) -> None: ...


async def checkpoint(input_func: InputFunc, state: Mapping[str, Any]) -> None:
    """The explicit checkpoint hook: a workflow hands over its state where it is consistent (at a human step,
    once its agents have finished their turns; never mid tool call, where AutoGen's ``save_state()`` may be
    inconsistent). An input function that keeps no state ignores it."""
    if isinstance(input_func, Checkpointing):
        await input_func.checkpoint(state)


def unrecorded(tool: Tool) -> Tool:
    """The ``ToolWrapper`` of a run that records nothing (tests, the workflow tier)."""
    return tool


class Verdict(StrEnum):
    APPROVE = "APPROVE"
    REVISE = "REVISE"
    CANCEL = "CANCEL"
    EXPIRED = "EXPIRED"
    DONE = "DONE"
    """Not a human's reply: the workflow's agent finished its work on its own (a tool-using run's answer)."""

    @property
    def final(self) -> bool:
        """Whether the workflow stops here (only a revision continues it)."""
        return self is not Verdict.REVISE


EDITED_BY = "edited by "


def edited(editor: str, content: str) -> str:
    """The reply of an approval given to an edited version: the editor, and the content as edited."""
    return format_reply(Verdict.APPROVE, f"{EDITED_BY}{editor}:\n{content}")


def edit_of(detail: str) -> tuple[str, str] | None:
    """(editor, content) of an approval's detail that carries an edit (``edited``), else None."""
    if not detail.startswith(EDITED_BY):
        return None
    head, newline, content = detail.partition("\n")
    if not newline or not head.endswith(":"):
        return None
    return head[len(EDITED_BY) : -1], content


def format_reply(verdict: Verdict, detail: str = "") -> str:
    return f"{verdict.value}: {detail}" if detail else verdict.value


def parse_reply(text: str) -> tuple[Verdict, str] | None:
    """The verdict and detail of an input-function reply, or None if ``text`` is not one."""
    head, _, detail = text.partition(":")
    try:
        verdict = Verdict(head.strip())
    except ValueError:
        return None
    if detail.lstrip().startswith(EDITED_BY):  # an edit's content is kept exactly as the person typed it
        return verdict, detail.lstrip()
    return verdict, detail.strip()


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    """How a run ended: the last verdict, the last draft the agent produced, and the human's detail."""

    verdict: Verdict
    output: str
    detail: str = ""
    revisions: int = 0
    tool_results: tuple[str, ...] = ()
    """What the agent's tool calls answered, in order (a refusal included)."""


class Workflow(Protocol):
    name: str
    description: str

    async def run(
        self, task: str, input_func: InputFunc, cancellation_token: CancellationToken | None = None
    ) -> WorkflowResult: ...
