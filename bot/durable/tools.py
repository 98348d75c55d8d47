"""Tool calls that run once: each call's start and result are recorded, fenced, before the agent sees the result.

A resumed run replays: a call whose result was recorded returns it without running the tool again. A call that
was recorded as started with no result was running when its worker died (or shut down): it may or may not have
taken effect, so it is never run again on its own; a person is asked, on a card that says so, whether to run it
again. Their answer is a step of the run like any other, so a later resume replays it too.

The calls of one run are keyed by the call id the model gave them (recorded answers replay the same ids), or by
their order for a model that gives none.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from autogen_core import CancellationToken

from bot.durable.store import Lease, LeaseLost, RunStore
from workflows import InputFunc, Verdict
from workflows.tools import WrappingTool, refusal
from workflows.types import Ask, Tool, ask, parse_reply

log = logging.getLogger(__name__)

STARTED = "started"
RESULT = "result:"
ERROR = "error:"


class ToolFailed(Exception):
    """The tool raised: the agent reads this message as the call's error, live and when replayed."""


def restart_prompt(tool: Tool, args: Mapping[str, Any]) -> str:
    shown = json.dumps(dict(args), indent=2, ensure_ascii=False, sort_keys=True)
    return (
        f"The bot restarted while it was running the tool `{tool.name}`, so it may or may not have taken effect."
        f" Run it again?\nArguments:\n```\n{shown}\n```\n"
        "Approve runs it again with these arguments; Cancel does not, and tells the agent it may have run."
    )


class ToolRecorder:
    """The ``ToolWrapper`` of one durable run."""

    def __init__(self, runs: RunStore, lease: Lease, ask: InputFunc, on_lost: Callable[[], None]) -> None:
        self.runs = runs
        self.lease = lease
        self.ask = ask
        self.on_lost = on_lost
        self.replayed = 0
        self._unnamed = itertools.count()

    def __call__(self, tool: Tool) -> Tool:
        return RecordedTool(tool, self)

    def key(self, call_id: str | None) -> str:
        return call_id or f"unnamed-{next(self._unnamed)}"


class RecordedTool(WrappingTool):
    def __init__(self, inner: Tool, recorder: ToolRecorder) -> None:
        super().__init__(inner)
        self._recorder = recorder

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> str:
        recorder = self._recorder
        key = recorder.key(call_id)
        workflow_id = recorder.lease.workflow_id
        events = await recorder.runs.tool_events(workflow_id, key)
        position = 0
        while position < len(events):  # an attempt that started before this process
            position += 1
            if position < len(events) and events[position] != STARTED:
                recorder.replayed += 1
                log.info("run %s: the result of %s (%s) replayed from the record", workflow_id, self.name, key)
                return _outcome(events[position])
            log.warning("run %s: %s (%s) was running when its worker stopped; asking", workflow_id, self.name, key)
            question = Ask("tool", restart_prompt(self._inner, args), self.name, dict(args), always_ask=True)
            reply = await ask(recorder.ask, question, cancellation_token)
            parsed = parse_reply(reply)
            if parsed is None or parsed[0] is not Verdict.APPROVE:
                return f"{refusal(self._inner, reply)} It may have run before the bot restarted."
        await self._record(key, position, STARTED)
        log.info("run %s: tool %s started (%s)", workflow_id, self.name, key)
        try:
            value = await self._inner.run_json(args, cancellation_token, call_id=call_id)
        except Exception as exc:
            event = f"{ERROR}{exc}"
        else:
            event = f"{RESULT}{self._inner.return_value_as_string(value)}"
        await self._record(key, position + 1, event)
        return _outcome(event)

    async def _record(self, key: str, index: int, event: str) -> None:
        recorder = self._recorder
        try:
            await recorder.runs.record_tool_event(recorder.lease, key, index, event)
        except LeaseLost:
            recorder.on_lost()
            raise


def _outcome(event: str) -> str:
    if event.startswith(ERROR):
        raise ToolFailed(event.removeprefix(ERROR))
    return event.removeprefix(RESULT)
