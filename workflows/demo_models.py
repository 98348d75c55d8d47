"""The scripted models of ``approval-bot demo``: offline, one per role, so every workflow can be tried.

Each is a ``ReplayChatCompletionClient`` (a fresh one per run): ``draft`` drafts and then revises; ``ops`` looks
up inactive customers (the built-in policy runs that at once) and then asks to email one (a card); ``plan``
proposes a plan, then writes one bash block and says DONE once it has run.
"""

from __future__ import annotations

import json
from typing import Any

from workflows.model import DEMO_DRAFTS, replay_config

TOOLS_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": "unknown",
    "structured_output": False,
}

DEMO_PLAN = (
    "1. Count the customers in the export file.\n2. Print the count with today's date.\n"
    "3. Report the number back to you."
)
DEMO_CODE = '```bash\necho "customers: 5 (as of $(date -u +%F))"\n```'
DEMO_EMAIL = {
    "to": "alan@example.com",
    "subject": "We miss you",
    "body": "Hi Alan, it has been a while since your last order. Here is 10% off your next one.",
}


def _calls(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A replayed answer that calls one tool (a ``CreateResult`` as its config holds it)."""
    return {
        "finish_reason": "function_calls",
        "content": [{"id": call_id, "name": name, "arguments": json.dumps(arguments)}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0},
        "cached": False,
    }


def _with_tools(config: dict[str, Any]) -> dict[str, Any]:
    config["config"]["model_info"] = TOOLS_INFO
    return config


def demo_config() -> dict[str, Any]:
    """``MODEL_CONFIG`` as a role mapping, for the demo."""
    ops = [
        _calls("call_demo_find", "find_customers", {"status": "inactive"}),
        _calls("call_demo_email", "send_email", DEMO_EMAIL),
        "Found 2 inactive customers and emailed Alan Turing a 10% offer; Edsger Dijkstra has no recent order.",
    ]
    return {
        "default": replay_config([DEMO_DRAFTS[0]] + [DEMO_DRAFTS[1]] * 20),
        "ops.assistant": _with_tools(replay_config(ops)),
        "plan.planner": replay_config([DEMO_PLAN] * 6),
        "plan.implementer": replay_config([DEMO_CODE, "The count is printed above. DONE"] + ["DONE"] * 8),
    }
