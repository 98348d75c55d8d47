"""Tool calls a human approves first: a wrapper that turns any AutoGen tool into one that asks before it runs.

The card shows the tool, what it does and the exact arguments; Approve runs the tool with exactly those
arguments, Revise hands the person's feedback back to the agent as the tool's result (so it can call again
differently), Cancel and expiry hand back a refusal it can read. ``AssistantAgent`` runs the calls of one turn
concurrently: one gate asks about them one after another, in the order the model made them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import BaseTool

from workflows.types import Ask, InputFunc, Tool, Verdict, ask, parse_reply


def call_prompt(tool: Tool, args: Mapping[str, Any]) -> str:
    """What a person is asked about one call: the tool, what it does, the arguments as readable JSON."""
    shown = json.dumps(dict(args), indent=2, ensure_ascii=False, sort_keys=True)
    return f"Run the tool `{tool.name}`?\n{tool.description}\nArguments:\n```\n{shown}\n```"


def refusal(tool: Tool, reply: str) -> str:
    """The tool result the agent reads when a person did not approve the call."""
    parsed = parse_reply(reply)
    verdict, detail = parsed if parsed is not None else (Verdict.CANCEL, reply)
    if verdict is Verdict.REVISE:
        return f"Not run: the reviewer asked for a change instead of running {tool.name}: {detail}"
    if verdict is Verdict.EXPIRED:
        return f"Not run: nobody approved {tool.name} before the deadline."
    return f"Not run: {tool.name} was refused" + (f" ({detail})." if detail else ".")


class ToolGate:
    """Asks a human (through the run's input function) before each call of the tools it guards."""

    def __init__(self, input_func: InputFunc) -> None:
        self._ask = input_func
        self._one_at_a_time = asyncio.Lock()

    def guard(self, tool: Tool) -> Tool:
        return GatedTool(tool, self)

    async def ask(self, request: Ask, cancellation_token: CancellationToken | None) -> str:
        # A lock is fair: the calls of one turn are asked in the order their tasks started, so a resumed run
        # asks its steps in the same order as the run it replays.
        async with self._one_at_a_time:
            return await ask(self._ask, request, cancellation_token)


class WrappingTool(BaseTool[Any, Any]):
    """A tool standing in front of another with the same name, description and argument schema; its answer is
    always text. Subclasses decide what ``run_json`` does around the inner tool."""

    def __init__(self, inner: Tool) -> None:
        super().__init__(inner.args_type(), str, inner.name, inner.description)
        self._inner = inner

    @property
    def schema(self) -> Any:
        return self._inner.schema

    async def run(self, args: Any, cancellation_token: CancellationToken) -> str:
        return str(await self.run_json(args.model_dump(), cancellation_token))


class GatedTool(WrappingTool):
    def __init__(self, inner: Tool, gate: ToolGate) -> None:
        super().__init__(inner)
        self._gate = gate

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> str:
        request = Ask("tool", call_prompt(self._inner, args), tool=self._inner.name, args=dict(args))
        reply = await self._gate.ask(request, cancellation_token)
        parsed = parse_reply(reply)
        if parsed is None or parsed[0] is not Verdict.APPROVE:
            return refusal(self._inner, reply)
        result = await self._inner.run_json(args, cancellation_token, call_id=call_id)
        return self._inner.return_value_as_string(result)
