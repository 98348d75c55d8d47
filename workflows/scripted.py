"""The demo's writer: an offline model whose answer depends only on the conversation it is given.

``ScriptedWriter`` drafts from the task and, at every ``REVISE: <feedback>`` in the conversation, rewrites the
draft so that the feedback visibly shows: "shorter" drops the last sentence, "bullet points" turns sentences
into a list, "formal" / "friendly" change the greeting and sign-off, anything else is added as a paragraph. A
plan (``kind: plan``) gains a step per feedback. Being a function of the messages, one client serves every run
and a resumed run gets the same answers (unlike ``ReplayChatCompletionClient``, which plays a list in order).

It is an AutoGen component, so ``MODEL_CONFIG`` can name it like any other model::

    {"provider": "workflows.scripted.ScriptedWriter", "config": {"kind": "draft"}}
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal, Self

from autogen_core import CancellationToken, Component
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,
    ModelFamily,
    ModelInfo,
    RequestUsage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from workflows.types import Verdict, parse_reply

INFO = ModelInfo(
    vision=False, function_calling=False, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
)
NO_USAGE = RequestUsage(prompt_tokens=0, completion_tokens=0)
SIGN_OFF = "Thanks,\nThe platform team"
RELEASE_BODY = (
    "Release 2.4 ships today with faster approvals and a new audit export. Please upgrade by Friday. "
    "Reply here with any questions."
)
PLAN = ["Count the customers in the export file.", "Print the count with today's date.", "Report the number back."]


class ScriptedWriterConfig(BaseModel):
    kind: Literal["draft", "plan"] = "draft"


class ScriptedWriter(ChatCompletionClient, Component[ScriptedWriterConfig]):
    """Writes a draft (or a plan) from the task and applies each revision's feedback; see the module docstring."""

    component_type = "model"
    component_config_schema = ScriptedWriterConfig
    component_provider_override = "workflows.scripted.ScriptedWriter"

    def __init__(self, kind: Literal["draft", "plan"] = "draft") -> None:
        self._kind = kind

    def answer(self, messages: Sequence[LLMMessage]) -> str:
        task, feedback = _conversation(messages)
        return plan(feedback) if self._kind == "plan" else draft(task, feedback)

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        return CreateResult(finish_reason="stop", content=self.answer(messages), usage=NO_USAGE, cached=False)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        yield await self.create(messages)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return NO_USAGE

    def total_usage(self) -> RequestUsage:
        return NO_USAGE

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return 0

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return 100_000

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(vision=False, function_calling=False, json_output=False)

    @property
    def model_info(self) -> ModelInfo:
        return INFO

    def _to_config(self) -> ScriptedWriterConfig:
        return ScriptedWriterConfig(kind=self._kind)

    @classmethod
    def _from_config(cls, config: ScriptedWriterConfig) -> Self:
        return cls(kind=config.kind)


def _conversation(messages: Sequence[LLMMessage]) -> tuple[str, list[str]]:
    """The task (the first user message) and every revision's feedback, in order."""
    said = [m.content for m in messages if isinstance(m, UserMessage) and isinstance(m.content, str)]
    replies = [parse_reply(text) for text in said[1:]]
    feedback = [reply[1] for reply in replies if reply is not None and reply[0] is Verdict.REVISE]
    return (said[0] if said else ""), feedback


def draft(task: str, feedback: Sequence[str]) -> str:
    """The email for ``task`` with each piece of ``feedback`` applied in turn."""
    subject, greeting, sign_off = _subject(task), "Hi team,", SIGN_OFF
    about = subject[:1].lower() + subject[1:]
    body = [RELEASE_BODY if "release" in task.lower() else f"This is about {about}. Reply here with any questions."]
    for said in feedback:
        wants = said.lower()
        matched = False
        if any(word in wants for word in ("short", "brief", "concise", "trim")):
            sentences = _sentences(" ".join(body))
            body, matched = [" ".join(sentences[:-1] if len(sentences) > 1 else sentences)], True
        if any(word in wants for word in ("bullet", "list", "points")):
            body, matched = ["\n".join(f"- {s.rstrip('.')}" for s in _sentences(" ".join(body)))], True
        if "formal" in wants:
            greeting, sign_off, matched = "Dear colleagues,", "Kind regards,\nThe platform team", True
        if any(word in wants for word in ("friendly", "casual", "warm")):
            greeting, sign_off, matched = "Hi everyone :wave:", "Cheers,\nThe platform team", True
        if not matched:
            body.append(f"{said.strip()[:1].upper()}{said.strip()[1:].rstrip('.')}.")
    return f"Subject: {subject}\n\n{greeting}\n\n" + "\n\n".join(body) + f"\n\n{sign_off}"


def plan(feedback: Sequence[str]) -> str:
    """The demo plan, with a step for each piece of ``feedback`` (or one step fewer where it asks for less)."""
    steps = list(PLAN)
    for said in feedback:
        if any(word in said.lower() for word in ("short", "fewer", "simpler")) and len(steps) > 1:
            steps.pop()
        else:
            steps.append(f"{said.strip()[:1].upper()}{said.strip()[1:].rstrip('.')} (added after your review).")
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))


def _subject(task: str) -> str:
    if "release" in task.lower():
        return "Release 2.4 is out"
    words = re.sub(r"^(draft|write)\s+(the\s+|an?\s+)?", "", task.strip(), flags=re.IGNORECASE).rstrip(".")
    return (words[:1].upper() + words[1:])[:80] or "An update"


def _sentences(text: str) -> list[str]:
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip().lstrip("- ")]
    return [s.lstrip("- ") for s in found] or [text]
