"""The scripted models of ``approval-bot demo``: offline, one per role, so every workflow can be tried.

``draft``'s writer and ``plan``'s planner are ``workflows.scripted.ScriptedWriter``: each revision applies the
person's feedback, visibly. ``ops`` (a ``ReplayChatCompletionClient``, a fresh one per run) looks up inactive
customers (the built-in policy runs that at once) and then asks to email one (a card); ``plan``'s implementer
writes one bash block and says DONE once it has run.
"""

from __future__ import annotations

import json
from typing import Any

from workflows.model import replay_config

TOOLS_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": "unknown",
    "structured_output": False,
}

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
        "default": {"provider": "workflows.scripted.ScriptedWriter", "config": {"kind": "draft"}},
        "ops.assistant": _with_tools(replay_config(ops)),
        "plan.planner": {"provider": "workflows.scripted.ScriptedWriter", "config": {"kind": "plan"}},
        "plan.implementer": replay_config([DEMO_CODE, "The count is printed above. DONE"] + ["DONE"] * 8),
    }
