"""A model client that records every answer of a run, fenced, and replays them when the run resumes.

A model does not answer the same way twice, and AutoGen warns that ``save_state()`` during a run may be
inconsistent. So a resumed run is rebuilt from scratch and replayed: its ``k``-th model call returns the ``k``-th
answer recorded before (the model is not asked again), its human steps find their approvals already created
(decided ones answer at once; a pending one waits on the same card). It reaches the same step with the same
content; only then does it ask the model anything new.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from bot.durable.store import Lease, RunStore
from workflows.lending import DelegatingClient

log = logging.getLogger(__name__)


class RecordingClient(DelegatingClient):
    def __init__(
        self, inner: ChatCompletionClient, runs: RunStore, lease: Lease, calls: Iterator[int] | None = None
    ) -> None:
        """``calls`` numbers the model calls of the whole run: every client of one run (one per agent role)
        shares it, so their answers are recorded in one sequence. The agents of a workflow take turns, so the
        sequence is the same when the run is replayed."""
        super().__init__(inner)
        self._runs = runs
        self._lease = lease
        self._calls = calls if calls is not None else itertools.count()
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
        index = next(self._calls)
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
