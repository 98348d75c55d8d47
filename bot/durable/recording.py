"""A model client that records every answer of a run, fenced, and replays them when the run resumes.

A model does not answer the same way twice, and AutoGen warns that ``save_state()`` during a run may be
inconsistent. So a resumed run is rebuilt from scratch and replayed: its ``k``-th model call returns the ``k``-th
answer recorded before (the model is not asked again), its human steps find their approvals already created
(decided ones answer at once; a pending one waits on the same card). It reaches the same step with the same
content; only then does it ask the model anything new.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from bot.durable.store import Lease, RunStore
from workflows.lending import DelegatingClient

log = logging.getLogger(__name__)


class RecordingClient(DelegatingClient):
    def __init__(self, inner: ChatCompletionClient, runs: RunStore, lease: Lease) -> None:
        super().__init__(inner)
        self._runs = runs
        self._lease = lease
        self._calls = 0
        self.replayed = 0
        """How many answers came from the record rather than the model."""

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        index = self._calls
        self._calls += 1
        recorded = await self._runs.recorded_answer(self._lease.workflow_id, index)
        if recorded is not None:
            self.replayed += 1
            log.info("run %s: model answer %d replayed from the record", self._lease.workflow_id, index)
            return CreateResult.model_validate_json(recorded)
        result = await super().create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )
        standing = await self._runs.record_answer(self._lease, index, result.model_dump_json())
        return CreateResult.model_validate_json(standing)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        """Recorded answers are whole: the stream is the one final result."""
        yield await self.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )
