"""ops: an assistant with tools over a customer database; it works on its own, and its calls are gated.

It calls tools until it answers in plain words (at most ``max_tool_rounds`` rounds); that answer is the run's
result. Every call is asked about through the input function with its exact arguments (``workflows.tools``); the
bot's risk policy answers some itself (the built-in one runs reads at once and refuses DDL), a person the rest.
Every call goes through the bot's ``ToolWrapper`` first, so a durable run records each result before the agent
sees it and never runs a finished call twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent, ToolCallRequestEvent
from autogen_core import CancellationToken
from autogen_core.tools import BaseTool

from workflows.ops_db import OpsDatabase
from workflows.tools import ToolGate
from workflows.types import InputFunc, ModelFactory, ToolWrapper, Verdict, WorkflowResult, unrecorded

DEFAULT_DATABASE = Path("ops.sqlite3")
SYSTEM_MESSAGE = (
    "You are an operations assistant for a small company's customer database (tables customers and outbox). "
    "Use the tools to do what the user asks. Changes (emails, deletions, SQL) are approved by a person before "
    "they run; a tool result starting with 'Not run' means the person did not approve that call: read why, and "
    "either call again differently or stop. When the work is done, answer in plain words with what you did."
)


@dataclass
class OpsWorkflow:
    model: ModelFactory
    database: Path = DEFAULT_DATABASE
    record: ToolWrapper = field(default=unrecorded)
    max_tool_rounds: int = 20
    name: str = "ops"
    description: str = "An assistant with tools over the customer database; every change waits for your approval."

    async def run(
        self, task: str, input_func: InputFunc, cancellation_token: CancellationToken | None = None
    ) -> WorkflowResult:
        database = OpsDatabase(self.database)
        await asyncio.to_thread(database.ensure)
        gate = ToolGate(input_func, database.preconditions())
        tools: list[BaseTool[Any, Any] | Callable[..., Any]] = [
            gate.guard(self.record(tool)) for tool in database.tools()
        ]
        client = self.model()
        try:
            assistant = AssistantAgent(
                "assistant",
                model_client=client,
                tools=tools,
                system_message=SYSTEM_MESSAGE,
                max_tool_iterations=self.max_tool_rounds,
            )
            result = await _run(assistant, gate, task, cancellation_token)
        finally:
            await client.close()
        answered = tuple(
            outcome.content
            for message in result.messages
            if isinstance(message, ToolCallExecutionEvent)
            for outcome in message.content
        )
        last = result.messages[-1] if result.messages else None
        if isinstance(last, TextMessage) and last.source == assistant.name:
            return WorkflowResult(verdict=Verdict.DONE, output=last.to_text(), tool_results=answered)
        detail = f"the assistant was still calling tools after {self.max_tool_rounds} rounds"
        return WorkflowResult(verdict=Verdict.CANCEL, output="", detail=detail, tool_results=answered)


async def _run(
    assistant: AssistantAgent, gate: ToolGate, task: str, cancellation_token: CancellationToken | None
) -> TaskResult:
    """Run the agent, telling the gate of each turn's calls before they run (the agent yields its
    ``ToolCallRequestEvent`` before it starts them), so the calls of one turn are asked about together."""
    # The stream is read to its end, never left early: AutoGen's tracing spans a stream, and a generator closed
    # later (by the garbage collector, in another context) fails to detach its span with a traceback.
    result: TaskResult | None = None
    async for item in assistant.run_stream(task=task, cancellation_token=cancellation_token):
        if isinstance(item, ToolCallRequestEvent):
            gate.expect(item.content)
        elif isinstance(item, TaskResult):
            result = item
    if result is None:
        raise RuntimeError("the assistant ended without a result")
    return result
