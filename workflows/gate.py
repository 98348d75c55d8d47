"""The human step of a team: a UserProxyAgent whose input function is shown what the agent wrote.

In autogen-agentchat 0.7 ``UserProxyAgent`` passes its input function a fixed prompt ("Enter your response: "),
not the draft to approve. ``ApprovalGate`` keeps the messages it is handed and passes the latest one instead,
so the input function needs nothing but AutoGen's own ``(prompt, cancellation_token)`` signature.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from autogen_agentchat.agents import UserProxyAgent
from autogen_agentchat.base import Response, TerminationCondition
from autogen_agentchat.conditions import FunctionalTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage
from autogen_core import CancellationToken

from workflows.types import Ask, InputFunc, ask, checkpoint, parse_reply


class ApprovalGate(UserProxyAgent):
    def __init__(
        self,
        name: str,
        input_func: InputFunc,
        description: str = "A human who approves or revises.",
        *,
        state: Callable[[], Awaitable[Mapping[str, Any]]] | None = None,
        kind: str = "draft",
    ) -> None:
        """``state`` gives the team's state at this step (its other agents have finished their turns), handed to
        the checkpoint hook before the human is asked."""
        self._ask_human = input_func
        self._state = state
        self._kind = kind
        self._draft = ""
        super().__init__(name, description=description, input_func=self._ask)

    async def on_messages_stream(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        self._draft = latest_text(messages, exclude=self.name)
        async for item in super().on_messages_stream(messages, cancellation_token):
            yield item

    async def _ask(self, prompt: str, cancellation_token: CancellationToken | None) -> str:
        if self._state is not None:
            await checkpoint(self._ask_human, await self._state())
        request = Ask(self._kind, self._draft or prompt, editable=self._draft)
        return await ask(self._ask_human, request, cancellation_token)


def latest_text(messages: Sequence[BaseChatMessage], exclude: str = "") -> str:
    """The text of the newest message not written by ``exclude``."""
    for message in reversed(messages):
        if message.source != exclude:
            return message.to_text()
    return ""


def decided(gate_name: str) -> TerminationCondition:
    """Stops the team once the gate answers with a final verdict (approve, cancel, expired)."""

    def final(messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> bool:
        for message in messages:
            if isinstance(message, BaseChatMessage) and message.source == gate_name:
                reply = parse_reply(message.to_text())
                if reply is not None and reply[0].final:
                    return True
        return False

    return FunctionalTermination(final)
