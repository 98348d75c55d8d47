"""The draft workflow with a real AutoGen team and a replayed model: an approval with edits makes the edited draft
the run's result."""

from __future__ import annotations

from autogen_core import CancellationToken
from autogen_ext.models.replay import ReplayChatCompletionClient

from workflows import Verdict
from workflows.draft import DraftWorkflow
from workflows.types import edited


class Editor:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.asked: list[str] = []

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        self.asked.append(prompt)
        return self.reply


async def test_an_approval_with_edits_makes_the_edited_draft_the_result() -> None:
    mine = "Subject: Launch\n\n  We launch on Tuesday.\n"  # kept exactly as typed, whitespace included
    editor = Editor(edited("U0BOB45678", mine))
    workflow = DraftWorkflow(lambda: ReplayChatCompletionClient(["Subject: Launch\n\nWe launch on Monday."]))

    result = await workflow.run("Announce the launch", editor)

    assert editor.asked == ["Subject: Launch\n\nWe launch on Monday."]
    assert (result.verdict, result.output) == (Verdict.APPROVE, mine)
