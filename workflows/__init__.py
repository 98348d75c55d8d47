"""The workflow registry: name -> workflow. Workflows know a human only as an input function."""

from __future__ import annotations

from workflows.draft import DraftWorkflow
from workflows.types import InputFunc, ModelFactory, Verdict, Workflow, WorkflowResult

DEFAULT_WORKFLOW = "draft"


def registry(model: ModelFactory) -> dict[str, Workflow]:
    """Every workflow the bot offers, by name; the first is the default."""
    workflows: list[Workflow] = [DraftWorkflow(model)]
    return {workflow.name: workflow for workflow in workflows}


__all__ = [
    "DEFAULT_WORKFLOW",
    "InputFunc",
    "ModelFactory",
    "Verdict",
    "Workflow",
    "WorkflowResult",
    "registry",
]
