"""Scripted models for the browser tests: answers that depend on the conversation, as a real model's do."""

from __future__ import annotations

import json
from pathlib import Path

from tests.model_server import Message, ModelServer, Reply

DRAFT = "Subject: Q3 launch\n\nWe launch the new billing page on Monday."


def feedback(messages: list[Message]) -> str | None:
    """The reviewer's latest feedback in the conversation (the workflow sends ``REVISE: <feedback>``)."""
    found = None
    for message in messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and "REVISE:" in content:
            found = content.split("REVISE:", 1)[1].strip()
    return found


def drafter(messages: list[Message]) -> Reply:
    """The first draft, then a revision that applies the latest feedback."""
    wanted = feedback(messages)
    if wanted is None:
        return DRAFT
    return f"Subject: Q3 launch\n\nThe billing page goes live on Monday. (Revised as asked: {wanted}.)"


def config_file(model_server: ModelServer, name: str, folder: Path) -> str:
    """A MODEL_CONFIG file for the bot asking ``model_server`` for the script called ``name``."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(model_server.config(name)))
    return str(path)
