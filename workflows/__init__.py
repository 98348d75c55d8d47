"""The workflow registry: name -> workflow. Workflows know a human only as an input function."""

from __future__ import annotations

from pathlib import Path

from workflows.draft import DraftWorkflow
from workflows.ops import DEFAULT_DATABASE, OpsWorkflow
from workflows.types import (
    InputFunc,
    ModelFactory,
    ToolWrapper,
    Verdict,
    Workflow,
    WorkflowResult,
    unrecorded,
)

DEFAULT_WORKFLOW = "draft"


def registry(
    model: ModelFactory, tools: ToolWrapper = unrecorded, *, ops_db: Path = DEFAULT_DATABASE
) -> dict[str, Workflow]:
    """Every workflow the bot offers, by name; the first is the default. ``tools`` goes around every tool a
    workflow's agents call (a durable run records their results)."""
    workflows: list[Workflow] = [DraftWorkflow(model), OpsWorkflow(model, ops_db, tools)]
    return {workflow.name: workflow for workflow in workflows}


__all__ = [
    "DEFAULT_WORKFLOW",
    "InputFunc",
    "ModelFactory",
    "ToolWrapper",
    "Verdict",
    "Workflow",
    "WorkflowResult",
    "registry",
    "unrecorded",
]
