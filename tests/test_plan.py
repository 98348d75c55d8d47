"""The plan workflow with real AutoGen agents, a replayed model and the real code executor: nothing runs before the
plan and each block are approved, and what ran (or what the person said instead) is what the implementer reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_core.models import CreateResult, LLMMessage
from autogen_core.tools import BaseTool
from autogen_ext.models.replay import ReplayChatCompletionClient

from workflows import Verdict
from workflows.lending import DelegatingClient
from workflows.plan import PLAN_HEADER, PlanWorkflow, code_blocks, code_prompt, says_done
from workflows.types import Tool, edited

PLAN = "1. Print a greeting.\n2. Report it."


class Heard(DelegatingClient):
    """A replayed model that keeps what each call was asked (the messages an agent sent)."""

    def __init__(self, answers: Sequence[str]) -> None:
        super().__init__(ReplayChatCompletionClient(list(answers)))
        self.asked: list[str] = []

    async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        self.asked.append("\n".join(str(message.content) for message in messages))
        return await super().create(messages, **kwargs)


class Human:
    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.asked: list[str] = []
        self.states: list[Mapping[str, Any]] = []

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        self.asked.append(prompt)
        return self.replies.pop(0)

    async def checkpoint(self, state: Mapping[str, Any]) -> None:
        self.states.append(state)


class Noted(BaseTool[Any, Any]):
    def __init__(self, inner: Tool, calls: list[tuple[str, dict[str, Any], str | None]]) -> None:
        super().__init__(inner.args_type(), str, inner.name, inner.description)
        self._inner, self._calls = inner, calls

    async def run(self, args: Any, cancellation_token: CancellationToken) -> str:
        return await self.run_json(args.model_dump(), cancellation_token)

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> str:
        self._calls.append((self.name, dict(args), call_id))
        value = await self._inner.run_json(args, cancellation_token, call_id=call_id)
        return self._inner.return_value_as_string(value)


class Calls:
    """A ``ToolWrapper`` that notes each call it is handed, with its call id (as a durable run's recorder sees it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []

    def __call__(self, tool: Tool) -> Tool:
        return Noted(tool, self.calls)


def plan(*answers: str) -> tuple[PlanWorkflow, Heard, Calls]:
    model, calls = Heard(answers), Calls()
    return PlanWorkflow(lambda: model, record=calls, code_timeout=20), model, calls


def block(language: str, code: str) -> str:
    return f"Next step:\n```{language}\n{code}\n```"


async def test_an_approved_plan_and_block_run_and_the_output_reaches_the_implementer() -> None:
    workflow, model, calls = plan(PLAN, block("bash", "echo hello-from-block"), "Printed the greeting. DONE")
    human = Human("APPROVE", "APPROVE")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.DONE and result.output == "Printed the greeting. DONE"
    plan_card, code_card = human.asked
    assert plan_card.startswith(PLAN_HEADER) and PLAN in plan_card
    assert code_card.startswith("Run this code?\nLanguage: bash\n```\necho hello-from-block\n```\nRuns in a fresh")
    assert [(name, args["language"], call_id) for name, args, call_id in calls.calls] == [
        ("run_code", "bash", "plan-code-1.1")
    ]
    [ran] = result.tool_results
    assert ran.startswith("Exit code 0.") and "hello-from-block" in ran
    assert "Ran: Block 1 (bash)." in model.asked[-1] and "hello-from-block" in model.asked[-1]
    assert PLAN in model.asked[1]  # the implementer was handed the approved plan
    assert list(human.states[-1]) == ["implementer"]  # checkpointed before the code card


async def test_a_revised_plan_is_planned_again_before_anything_runs() -> None:
    workflow, model, calls = plan("1. Print.", PLAN, "Nothing needs running. DONE")
    human = Human("REVISE: add a step that reports it", "APPROVE")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.DONE and result.revisions == 1
    assert "1. Print." in human.asked[0] and PLAN in human.asked[1] and len(human.asked) == 2
    assert "add a step that reports it" in model.asked[1]  # the planner heard the feedback
    assert calls.calls == []


async def test_a_cancelled_plan_ends_the_run_before_the_implementer_starts() -> None:
    workflow, model, calls = plan(PLAN, block("bash", "echo never"))
    human = Human("CANCEL: not this quarter")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.CANCEL and result.detail == "not this quarter"
    assert len(model.asked) == 1 and calls.calls == []


async def test_a_cancelled_block_stops_the_run_and_never_runs() -> None:
    workflow, model, calls = plan(PLAN, block("python", "print('never')"), "never asked")
    human = Human("APPROVE", "CANCEL: not on production")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.CANCEL and result.detail == "not on production"
    assert calls.calls == [] and result.tool_results == ()
    assert len(model.asked) == 2  # the implementer was not asked again


async def test_a_revised_block_sends_the_feedback_to_the_implementer_instead_of_running() -> None:
    workflow, model, calls = plan(
        PLAN, block("bash", "rm -rf ~/everything"), block("bash", "echo safer"), "Printed safely. DONE"
    )
    human = Human("APPROVE", "REVISE: do not delete anything", "APPROVE")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.DONE and result.revisions == 1
    assert "Not run: the reviewer asked for a change to Block 1 (bash)" in model.asked[2]
    assert "do not delete anything" in model.asked[2]
    assert [args["code"] for _, args, _ in calls.calls] == ["echo safer\n"]
    assert [call_id for _, _, call_id in calls.calls] == ["plan-code-2.1"]


async def test_after_a_failed_block_the_rest_of_the_message_is_not_asked_and_the_next_card_shows_the_output() -> None:
    two_blocks = block("bash", "echo first-out; echo broke >&2; exit 3") + "\n" + block("bash", "echo not-asked")
    workflow, model, _ = plan(PLAN, two_blocks, block("python", "print('retry')"), "Recovered. DONE")
    human = Human("APPROVE", "APPROVE", "APPROVE")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.DONE and len(human.asked) == 3
    told = model.asked[2]
    assert "Failed: Block 1 (bash)." in told and "Exit code 3." in told and "broke" in told
    assert "Not run: Block 2 (bash), because the block before it did not run or failed." in told
    retry_card = human.asked[2]
    assert "print('retry')" in retry_card and "The previous block's result:\nExit code 3." in retry_card


async def test_a_block_that_outlives_its_limit_is_reported_to_the_implementer() -> None:
    model = Heard([PLAN, block("bash", "sleep 30"), "It timed out. DONE"])
    workflow, human = PlanWorkflow(lambda: model, code_timeout=1), Human("APPROVE", "APPROVE")

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.DONE
    assert "stopped after 1 s" in human.asked[1]  # the card says the limit
    assert "Killed at the time limit (1 s)" in model.asked[-1]


async def test_an_implementer_that_never_says_done_is_stopped_after_its_turns() -> None:
    model = Heard([PLAN, "Thinking about it.", "Still thinking."])
    workflow = PlanWorkflow(lambda: model, max_turns=2)

    result = await workflow.run("Greet the team", Human("APPROVE"))

    assert result.verdict is Verdict.CANCEL and result.detail == "the implementer had not said DONE after 2 turns"
    assert "There was no python or bash block to run." in model.asked[-1]


async def test_an_expired_code_card_ends_the_run_as_expired() -> None:
    workflow, _, calls = plan(PLAN, block("bash", "echo x"))

    result = await workflow.run("Greet the team", Human("APPROVE", "EXPIRED: nobody decided"))

    assert result.verdict is Verdict.EXPIRED and calls.calls == []


def test_only_python_and_bash_fences_are_code_and_done_inside_a_block_does_not_count() -> None:
    text = "```json\n{}\n```\n```\nplain\n```\n```Python\nprint(1)\n```\n```sh\necho DONE\n```"

    assert code_blocks(text) == [CodeBlock("print(1)\n", "python"), CodeBlock("echo DONE\n", "bash")]
    assert not says_done(text) and says_done(text + "\nAll DONE.") and not says_done("ABANDONED")


def test_the_code_card_cuts_a_long_previous_result_without_leaving_a_block_open() -> None:
    previous = "Exit code 0.\nstdout:\n```\n" + "y" * 5000 + "\n```\nstderr: (empty)"

    card = code_prompt(CodeBlock("echo hi", "bash"), "a throwaway directory", previous)

    assert card.count("```") % 2 == 0 and "(cut here for the card; the agent read 5,045 characters)" in card
    assert len(card) < 1800


async def test_the_implementer_asks_its_own_model_when_it_has_one() -> None:
    planner, implementer = Heard([PLAN]), Heard([block("bash", "echo own-model"), "Done. DONE"])
    workflow = PlanWorkflow(lambda: planner, implementer_model=lambda: implementer)

    result = await workflow.run("Greet the team", Human("APPROVE", "APPROVE"))

    assert result.verdict is Verdict.DONE and len(planner.asked) == 1 and len(implementer.asked) == 2
    assert "own-model" in implementer.asked[-1]


async def test_an_edited_plan_and_an_edited_block_are_what_the_implementer_gets_and_what_runs() -> None:
    edited_plan = "1. Print a friendlier greeting."
    workflow, model, calls = plan(PLAN, block("bash", "echo original"), "Done. DONE")
    human = Human(edited("U0BOB45678", edited_plan), edited("U0BOB45678", "echo edited-by-bob"))

    result = await workflow.run("Greet the team", human)

    assert result.verdict is Verdict.DONE
    assert edited_plan in model.asked[1] and PLAN not in model.asked[1]  # the implementer got the edited plan
    assert [args["code"] for _, args, _ in calls.calls] == ["echo edited-by-bob"]  # what ran is the edit
    assert "edited-by-bob" in result.tool_results[0]
    assert "The reviewer (U0BOB45678) edited Block 1 (bash)" in model.asked[-1]
