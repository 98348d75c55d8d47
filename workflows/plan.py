"""plan: a planner proposes a plan a person approves; then an implementer carries it out, one approved block at a time.

The plan phase is ``draft``'s loop (Approve, Revise with feedback, Cancel) with a planner. Once the plan is
approved, the implementer writes code as fenced ``python`` or ``bash`` blocks. Each block is shown on its own card
("Run this code?", the language, the code, where it runs) before it runs: Approve runs it in an
``IsolatedCodeExecutor`` and hands its output to the implementer (and shows it on the next card); Revise hands the
person's feedback to the implementer instead; Cancel (or expiry) stops the run. The implementer ends the work
with a message that says ``DONE`` and holds no block to run (a message with blocks first hears their results),
or the run stops after ``max_turns`` turns.

Blocks run through the run's ``ToolWrapper`` as the tool ``run_code(language, code)``, so a durable run records
each result before the implementer sees it and never runs a block twice without asking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import FunctionTool

from workflows.draft import summarise
from workflows.executor import CODE_TIMEOUT_S, LANGUAGES, IsolatedCodeExecutor, succeeded
from workflows.gate import ApprovalGate, decided
from workflows.types import (
    Ask,
    InputFunc,
    ModelFactory,
    Tool,
    ToolWrapper,
    Verdict,
    WorkflowResult,
    ask,
    checkpoint,
    edit_of,
    parse_reply,
    unrecorded,
)

PLANNER_SYSTEM_MESSAGE = (
    "You plan how to do what the user asks: a short numbered list of concrete steps. Write no code yet: a human "
    "approves the plan first, and then an engineer carries it out by running code. When the reviewer answers "
    "'REVISE: <feedback>', write a complete new plan that applies the feedback. Reply with the plan only."
)
IMPLEMENTER_SYSTEM_MESSAGE = (
    "You carry out an approved plan by writing code. Write each step as a fenced code block labelled python or "
    "bash (```python or ```bash). A person reads every block before it runs; it runs in a fresh empty directory "
    "with no secrets, no state kept between blocks, and a time limit. You are told each block's exit code and "
    "output, or the reviewer's feedback when they did not run it. Keep blocks small. When the plan is carried "
    "out and you have seen the results, reply without a code block: a short summary of what was done and its "
    "results, and the word DONE."
)
PLAN_HEADER = "Approve this plan? Once it is approved, every code block the agent writes is shown here before it runs."
DONE_WORD = re.compile(r"\bDONE\b")
FENCED = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)
CARD_OUTPUT = 1500
"""Characters of the previous block's output shown on the next card (the implementer reads all of it)."""


def code_blocks(text: str) -> list[CodeBlock]:
    """The runnable blocks of a message, in order: fences labelled python or bash (others are not code to run)."""
    return [
        CodeBlock(code=code, language=LANGUAGES[label.lower()])
        for label, code in FENCED.findall(text)
        if label.lower() in LANGUAGES
    ]


def says_done(text: str) -> bool:
    """Whether the message says DONE outside its code blocks (a block may well ``echo DONE``)."""
    return DONE_WORD.search(FENCED.sub("", text)) is not None


def code_prompt(block: CodeBlock, where: str, previous: str = "") -> str:
    """What a person is asked about one block: the card's text."""
    lines = ["Run this code?", f"Language: {block.language}", f"```\n{block.code.rstrip()}\n```", f"Runs in {where}."]
    if previous:
        lines.append(f"The previous block's result:\n{_shortened(previous)}")
    return "\n".join(lines)


def _shortened(result: str) -> str:
    if len(result) <= CARD_OUTPUT:
        return result
    shown = result[:CARD_OUTPUT]
    if shown.count("```") % 2:  # never leave a code block open
        shown += "\n```"
    return f"{shown}\n(cut here for the card; the agent read {len(result):,} characters)"


class HeadedInput:
    """The run's input function with a header before each prompt; checkpoints go through to it unchanged."""

    def __init__(self, inner: InputFunc, header: str) -> None:
        self._inner = inner
        self._header = header

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        return await self._inner(f"{self._header}\n\n{prompt}", cancellation_token)

    async def ask(self, request: Ask, cancellation_token: CancellationToken | None) -> str:
        headed = replace(request, text=f"{self._header}\n\n{request.text}")
        return await ask(self._inner, headed, cancellation_token)

    async def checkpoint(self, state: Any) -> None:
        await checkpoint(self._inner, state)


@dataclass
class PlanWorkflow:
    model: ModelFactory
    """The planner's model (role ``plan.planner``), and the implementer's unless ``implementer_model`` is given."""
    record: ToolWrapper = field(default=unrecorded)
    implementer_model: ModelFactory | None = None
    """Role ``plan.implementer``."""
    code_timeout: float = CODE_TIMEOUT_S
    max_revisions: int = 5
    max_turns: int = 10
    """Implementer messages at most, before the run stops unfinished."""
    name: str = "plan"
    description: str = (
        "The agent plans; once you approve the plan it writes code, and each block runs when you approve it."
    )

    def run_code_tool(self, executor: IsolatedCodeExecutor) -> Tool:
        async def run_code(language: str, code: str, cancellation_token: CancellationToken) -> str:
            try:
                execution = await executor.execute(language, code, cancellation_token)
            except (OSError, ValueError) as exc:
                return f"Could not run the block: {exc}"
            return execution.describe(executor.timeout_s)

        description = f"Run one approved {' or '.join(sorted(set(LANGUAGES.values())))} block in {executor.where}."
        return FunctionTool(run_code, description=description, name="run_code")

    async def run(
        self, task: str, input_func: InputFunc, cancellation_token: CancellationToken | None = None
    ) -> WorkflowResult:
        token = cancellation_token or CancellationToken()
        planner_client = self.model()
        try:
            planned = await self._plan(task, planner_client, input_func, token)
            if planned.verdict is not Verdict.APPROVE:
                return planned
            done = await self._implement(task, planned.output, input_func, token)
        finally:
            await planner_client.close()
        return WorkflowResult(
            verdict=done.verdict,
            output=done.output,
            detail=done.detail,
            revisions=planned.revisions + done.revisions,
            tool_results=done.tool_results,
        )

    async def _implement(self, task: str, plan: str, input_func: InputFunc, token: CancellationToken) -> WorkflowResult:
        client = (self.implementer_model or self.model)()
        try:
            implementer = AssistantAgent("implementer", model_client=client, system_message=IMPLEMENTER_SYSTEM_MESSAGE)
            executor = IsolatedCodeExecutor(self.code_timeout)
            work = Implementation(implementer, input_func, self.record(self.run_code_tool(executor)), executor.where)
            return await work.carry_out(task, plan, self.max_turns, token)
        finally:
            await client.close()

    async def _plan(
        self, task: str, client: ChatCompletionClient, input_func: InputFunc, token: CancellationToken
    ) -> WorkflowResult:
        planner = AssistantAgent("planner", model_client=client, system_message=PLANNER_SYSTEM_MESSAGE)

        async def state() -> dict[str, Any]:
            return {planner.name: dict(await planner.save_state())}

        gate = ApprovalGate("approver", HeadedInput(input_func, PLAN_HEADER), state=state, kind="plan")
        cap = MaxMessageTermination(2 * (self.max_revisions + 1) + 1)
        team = RoundRobinGroupChat([planner, gate], termination_condition=decided(gate.name) | cap)
        result = await team.run(task=task, cancellation_token=token)
        return summarise(result.messages, drafter=planner.name, gate=gate.name)


@dataclass
class Implementation:
    """The implement phase: the implementer's turns, each block asked about, run or sent back."""

    implementer: AssistantAgent
    ask: InputFunc
    run_code: Tool
    where: str
    results: list[str] = field(default_factory=list)
    revisions: int = 0

    async def carry_out(self, task: str, plan: str, max_turns: int, token: CancellationToken) -> WorkflowResult:
        message = f"The task: {task}\n\nThe approved plan:\n{plan}\n\nCarry it out."
        text = ""
        for turn in range(1, max_turns + 1):
            response = await self.implementer.on_messages([TextMessage(content=message, source="reviewer")], token)
            text = response.chat_message.to_text()
            answers, stop = await self._blocks(turn, code_blocks(text), token)
            if stop is not None:
                return self._result(stop[0], text, stop[1])
            if not answers and says_done(text):  # a message with blocks waits for their results first
                return self._result(Verdict.DONE, text)
            message = "\n\n".join(answers) or (
                "There was no python or bash block to run. Write the next step as a ```python or ```bash block, "
                "or reply DONE when the plan is carried out."
            )
        return self._result(Verdict.CANCEL, text, f"the implementer had not said DONE after {max_turns} turns")

    async def _blocks(
        self, turn: int, blocks: list[CodeBlock], token: CancellationToken
    ) -> tuple[list[str], tuple[Verdict, str] | None]:
        """Asks about each block in order and runs the approved ones; what to tell the implementer, or why to stop."""
        answers: list[str] = []
        for index, block in enumerate(blocks, start=1):
            label = f"Block {index} ({block.language})"
            if answers and answers[-1].startswith(("Not run", "Failed")):
                answers.append(f"Not run: {label}, because the block before it did not run or failed.")
                continue
            await checkpoint(self.ask, {self.implementer.name: dict(await self.implementer.save_state())})
            previous = self.results[-1] if self.results else ""
            arguments = {"language": block.language, "code": block.code}
            prompt = code_prompt(block, self.where, previous)
            shown = Ask("code", prompt, tool="run_code", args=arguments, editable=block.code)
            reply = await ask(self.ask, shown, token)
            verdict, detail = parse_reply(reply) or (Verdict.CANCEL, reply)
            note = ""
            if verdict is Verdict.APPROVE and (change := edit_of(detail)) is not None:
                arguments = {"language": block.language, "code": change[1]}  # runs what the person approved
                note = f"The reviewer ({change[0]}) edited {label} before approving it; what ran:\n{change[1]}\n"
            if verdict is Verdict.REVISE:
                self.revisions += 1
                answers.append(f"Not run: the reviewer asked for a change to {label} instead of running it: {detail}")
            elif verdict is not Verdict.APPROVE:
                if verdict is Verdict.EXPIRED:
                    return answers, (Verdict.EXPIRED, "nobody decided on a code block before the deadline")
                return answers, (Verdict.CANCEL, detail or "a code block was cancelled")
            else:
                value = await self.run_code.run_json(arguments, token, call_id=f"plan-code-{turn}.{index}")
                result = self.run_code.return_value_as_string(value)
                self.results.append(result)
                answers.append(f"{note}{'Ran' if succeeded(result) else 'Failed'}: {label}.\n{result}")
        return answers, None

    def _result(self, verdict: Verdict, output: str, detail: str = "") -> WorkflowResult:
        return WorkflowResult(verdict, output, detail, self.revisions, tuple(self.results))
