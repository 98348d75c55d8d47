"""draft: the agent drafts, a human approves, asks for a revision (with feedback), or cancels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken

from workflows.gate import ApprovalGate, decided
from workflows.types import InputFunc, ModelFactory, Verdict, WorkflowResult, edit_of, parse_reply

SYSTEM_MESSAGE = (
    "You draft what the user asks for (an email, a plan, a change). A human reviews every draft. "
    "When the reviewer answers 'REVISE: <feedback>', write a complete new draft that applies the feedback. "
    "Reply with the draft only."
)


@dataclass
class DraftWorkflow:
    model: ModelFactory
    max_revisions: int = 5
    name: str = "draft"
    description: str = "The agent drafts; you approve, ask for a revision, or cancel."

    async def run(
        self, task: str, input_func: InputFunc, cancellation_token: CancellationToken | None = None
    ) -> WorkflowResult:
        client = self.model()
        try:
            drafter = AssistantAgent("drafter", model_client=client, system_message=SYSTEM_MESSAGE)
            gate = ApprovalGate("approver", input_func, state=lambda: _states(drafter))
            # Each round is a draft and a reply; the cap ends a run that keeps being revised.
            cap = MaxMessageTermination(2 * (self.max_revisions + 1) + 1)
            team = RoundRobinGroupChat([drafter, gate], termination_condition=decided(gate.name) | cap)
            result = await team.run(task=task, cancellation_token=cancellation_token)
        finally:
            await client.close()
        return summarise(result.messages, drafter=drafter.name, gate=gate.name)


async def _states(*agents: AssistantAgent) -> dict[str, Any]:
    return {agent.name: dict(await agent.save_state()) for agent in agents}


def summarise(messages: Sequence[BaseAgentEvent | BaseChatMessage], *, drafter: str, gate: str) -> WorkflowResult:
    """The last verdict of the gate and the draft it was about."""
    output, verdict, detail, revisions = "", Verdict.CANCEL, "the revision limit was reached", 0
    for message in messages:
        if not isinstance(message, BaseChatMessage):
            continue
        if message.source == drafter:
            output = message.to_text()
        elif message.source == gate and (reply := parse_reply(message.to_text())) is not None:
            verdict, detail = reply
            revisions += verdict is Verdict.REVISE
            if verdict is Verdict.APPROVE and (change := edit_of(detail)) is not None:
                output = change[1]  # the person approved their edit of the draft: that is the result
    if verdict is Verdict.REVISE:  # stopped by the cap while still revising
        verdict, detail = Verdict.CANCEL, "the revision limit was reached"
    return WorkflowResult(verdict=verdict, output=output, detail=detail, revisions=revisions)
