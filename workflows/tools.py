"""Tool calls a human approves first: a wrapper that turns any AutoGen tool into one that asks before it runs.

The card shows the tool, what it does and the exact arguments; Approve runs the tool with exactly those
arguments, Revise hands the person's feedback back to the agent as the tool's result (so it can call again
differently), Cancel and expiry hand back a refusal it can read. ``AssistantAgent`` runs the calls of one turn
concurrently, each on its own, so a wrapper around one tool never sees the others: told of the turn
(``ToolGate.expect``, from the agent's ``ToolCallRequestEvent``), the gate holds each gated call of it until all
have arrived and asks about them together (``ask_many``: one card where they fit, a decision per call). Without
that, it asks about each call on its own, one after another.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_core import CancellationToken, FunctionCall
from autogen_core.tools import BaseTool
from pydantic import ValidationError

from workflows.types import Ask, InputFunc, Preconditions, Tool, Verdict, ask, ask_many, edit_of, parse_reply

MAX_ASKS = 3
"""How often one call is asked about when what it would act on keeps changing between approval and execution."""


def call_prompt(tool: Tool, args: Mapping[str, Any], expects: Mapping[str, Any] | None = None) -> str:
    """What a person is asked about one call: the tool, what it does, the arguments as readable JSON, and what
    it expects to act on (re-checked just before it runs)."""
    shown = json.dumps(dict(args), indent=2, ensure_ascii=False, sort_keys=True)
    text = f"Run the tool `{tool.name}`?\n{tool.description}\nArguments:\n```\n{shown}\n```"
    if expects:
        expected = json.dumps(dict(expects), indent=2, ensure_ascii=False, sort_keys=True)
        text += f"\nIt acts on exactly this (checked again just before it runs):\n```\n{expected}\n```"
    return text


def refusal(tool: Tool, reply: str) -> str:
    """The tool result the agent reads when a person did not approve the call."""
    parsed = parse_reply(reply)
    verdict, detail = parsed if parsed is not None else (Verdict.CANCEL, reply)
    if verdict is Verdict.REVISE:
        return f"Not run: the reviewer asked for a change instead of running {tool.name}: {detail}"
    if verdict is Verdict.EXPIRED:
        return f"Not run: nobody approved {tool.name} before the deadline."
    return f"Not run: {tool.name} was refused" + (f" ({detail})." if detail else ".")


@dataclass
class _Turn:
    """The gated calls of one model turn, by call id in the model's order, and those that have arrived."""

    expected: list[str]
    arrived: dict[str, tuple[Ask, asyncio.Future[str]]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.arrived) == len(self.expected)


class ToolGate:
    """Asks a human (through the run's input function) before each call of the tools it guards."""

    def __init__(self, input_func: InputFunc, preconditions: Mapping[str, Preconditions] | None = None) -> None:
        """``preconditions``: by tool name, what a call expects when approved (``Preconditions``)."""
        self._ask = input_func
        self._preconditions = dict(preconditions or {})
        self._one_at_a_time = asyncio.Lock()
        self._guarded: set[str] = set()
        self._turn: _Turn | None = None

    async def expects(self, tool: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        check = self._preconditions.get(tool)
        return dict(await check(args)) if check is not None else {}

    def guard(self, tool: Tool) -> Tool:
        self._guarded.add(tool.name)
        return GatedTool(tool, self)

    def expect(self, calls: Sequence[FunctionCall]) -> None:
        """The agent is about to run ``calls`` (one model turn): those of them this gate guards are asked about
        together. Only calls that will reach their tool count: a guarded name, arguments that decode as JSON
        (AutoGen answers an undecodable call with an error itself)."""
        expected = [call.id for call in calls if call.name in self._guarded and _decodes(call.arguments)]
        self._turn = _Turn(expected) if len(expected) > 1 else None

    async def ask(self, request: Ask, cancellation_token: CancellationToken | None, call_id: str | None = None) -> str:
        """The person's reply about one call: with the rest of its turn where the gate was told of it."""
        turn = self._turn
        if turn is None or call_id not in turn.expected or call_id in turn.arrived:
            # A lock is fair: calls asked one by one are asked in the order their tasks started, so a resumed
            # run asks its steps in the same order as the run it replays.
            async with self._one_at_a_time:
                return await ask(self._ask, request, cancellation_token)
        reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        turn.arrived[call_id] = (request, reply)
        if turn.complete:  # the last call of the turn to arrive asks for all of them
            self._turn = None
            await self._ask_turn(turn, reply, cancellation_token)
        return await reply

    async def _ask_turn(
        self, turn: _Turn, own: asyncio.Future[str], cancellation_token: CancellationToken | None
    ) -> None:
        """Ask for every call of ``turn`` and hand each its reply; if asking fails, every call fails alike (the
        asking call raises, so its own future is dropped)."""
        calls = [turn.arrived[call_id] for call_id in turn.expected]
        try:
            async with self._one_at_a_time:
                replies = await ask_many(self._ask, [request for request, _ in calls], cancellation_token)
        except BaseException as exc:
            for _, reply in calls:
                if reply is own or isinstance(exc, asyncio.CancelledError):
                    reply.cancel()
                else:
                    reply.set_exception(exc)
            raise
        for (_, reply), text in zip(calls, replies, strict=True):
            reply.set_result(text)


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
        """Ask, then run exactly what was approved: a copy of the arguments as shown (nothing can change them
        after the approval), and only while what the call acts on is still what was approved; if that changed,
        the call is asked about again, as it is now."""
        name, approved = self._inner.name, copy.deepcopy(dict(args))
        for attempt in range(MAX_ASKS):
            expects = await self._gate.expects(name, approved)
            text = call_prompt(self._inner, approved, expects)
            editable = json.dumps(approved, indent=2, ensure_ascii=False, sort_keys=True)
            request = Ask(
                "tool", text, tool=name, args=copy.deepcopy(approved), preconditions=expects, editable=editable
            )
            reply = await self._gate.ask(request, cancellation_token, call_id if attempt == 0 else None)
            parsed = parse_reply(reply)
            if parsed is None or parsed[0] is not Verdict.APPROVE:
                return refusal(self._inner, reply)
            if (change := edit_of(parsed[1])) is not None:  # approved as the person edited it: run exactly that
                return await self._run_edited(change, cancellation_token, call_id)
            if await self._gate.expects(name, approved) == expects:  # re-checked just before it runs
                result = await self._inner.run_json(approved, cancellation_token, call_id=call_id)
                return self._inner.return_value_as_string(result)
        return f"Not run: what {name} would act on kept changing while it was being approved, so nothing was done."

    async def _run_edited(
        self, change: tuple[str, str], cancellation_token: CancellationToken, call_id: str | None
    ) -> str:
        """Run the call with the arguments as the person edited and approved them, and say so to the agent."""
        editor, content = change
        result = await self._inner.run_json(_edited_args(content), cancellation_token, call_id=call_id)
        return (
            f"The reviewer ({editor}) edited the arguments before approving; {self._inner.name} ran with:\n"
            f"{content}\nResult: {self._inner.return_value_as_string(result)}"
        )


def argument_check(tools: Sequence[Tool]) -> Callable[[str, Mapping[str, Any]], str | None]:
    """Checks a tool call's (edited) arguments against the tool's argument schema: why they do not fit, or
    None. The tool's own pydantic model decides, as it does when the call runs."""
    by_name = {tool.name: tool for tool in tools}

    def check(name: str, args: Mapping[str, Any]) -> str | None:
        tool = by_name.get(name)
        if tool is None:
            return f"there is no tool named {name}"
        try:
            tool.args_type().model_validate(dict(args))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "the arguments"
            return f"{where}: {first.get('msg', 'invalid')}"
        return None

    return check


def _edited_args(content: str) -> dict[str, Any]:
    args = json.loads(content)
    if not isinstance(args, dict):
        raise ValueError("edited arguments must be a JSON object")
    return args


def _decodes(arguments: str) -> bool:
    try:
        json.loads(arguments)
    except ValueError:
        return False
    return True
