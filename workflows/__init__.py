"""The workflow registry: name -> workflow. Workflows know a human only as an input function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workflows.draft import DraftWorkflow
from workflows.executor import CODE_TIMEOUT_S
from workflows.ops import DEFAULT_DATABASE, OpsWorkflow
from workflows.ops_db import OpsDatabase
from workflows.plan import PlanWorkflow
from workflows.tools import argument_check
from workflows.types import (
    InputFunc,
    ModelFactory,
    Models,
    ToolWrapper,
    Verdict,
    Workflow,
    WorkflowResult,
    one_model,
    unrecorded,
)

DEFAULT_WORKFLOW = "draft"


def registry(
    models: Models,
    tools: ToolWrapper = unrecorded,
    *,
    ops_db: Path = DEFAULT_DATABASE,
    code_timeout: float = CODE_TIMEOUT_S,
    max_revisions: int = 5,
) -> dict[str, Workflow]:
    """Every workflow the bot offers, by name; the first is the default. ``models`` gives each agent role its
    model (``ROLES``); ``tools`` goes around every tool a workflow's agents call (a durable run records them);
    ``max_revisions`` caps a draft's or plan's revisions (the bot enforces ``MAX_REVISIONS`` itself too)."""
    workflows: list[Workflow] = [
        DraftWorkflow(models("draft.drafter"), max_revisions=max_revisions),
        OpsWorkflow(models("ops.assistant"), ops_db, tools),
        PlanWorkflow(
            models("plan.planner"),
            tools,
            implementer_model=models("plan.implementer"),
            code_timeout=code_timeout,
            max_revisions=max_revisions,
        ),
    ]
    return {workflow.name: workflow for workflow in workflows}


def argument_checks(ops_db: Path = DEFAULT_DATABASE) -> Callable[[str, Mapping[str, Any]], str | None]:
    """Checks edited tool-call arguments against the schema of the tool of that name, for every workflow's tools
    (the Edit modal's validation)."""
    return argument_check(OpsDatabase(ops_db).tools())


__all__ = [
    "DEFAULT_WORKFLOW",
    "InputFunc",
    "ModelFactory",
    "Models",
    "ToolWrapper",
    "Verdict",
    "Workflow",
    "WorkflowResult",
    "argument_checks",
    "one_model",
    "registry",
    "unrecorded",
]
