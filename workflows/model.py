"""Where the model comes from: an AutoGen component config, OpenAI by default, or a scripted demo model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from autogen_core.models import ChatCompletionClient

from workflows.lending import LentClient

DEFAULT_MODEL = "gpt-4o-mini"

DEMO_DRAFTS = [
    "Subject: Release 2.4 is out\n\nHi team,\n\nRelease 2.4 ships today with faster approvals and a new audit "
    "export. Please upgrade by Friday.\n\nThanks,\nThe platform team",
    "Subject: Release 2.4 is out\n\nHi team,\n\nRelease 2.4 ships today:\n- approvals answer faster\n- audit logs "
    "can be exported\n\nPlease upgrade by Friday; reply here with any questions.\n\nThanks,\nThe platform team",
]


class ModelConfigError(ValueError):
    """The model configuration cannot be loaded; the message says why in one line."""


def component_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelConfigError(f"MODEL_CONFIG {path} cannot be read: {exc.strerror}") from exc
    try:
        config = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ModelConfigError(f"MODEL_CONFIG {path} is not valid JSON or YAML") from exc
    if not isinstance(config, dict) or "provider" not in config:
        raise ModelConfigError(f"MODEL_CONFIG {path} is not an AutoGen component config (no 'provider' key)")
    return config


STATEFUL_PROVIDERS = frozenset({"autogen_ext.models.replay.ReplayChatCompletionClient", "ReplayChatCompletionClient"})
"""Clients whose answers depend on the calls before (a replay plays its list in order): one per run."""


class ModelSource:
    """The model factory of a process: lends one loaded client to every run, or loads one per run for a
    client with state across calls (``workflows.lending`` says why)."""

    def __init__(self, config: dict[str, Any], shared: ChatCompletionClient | None) -> None:
        self._config = config
        self._shared = shared

    def __call__(self) -> ChatCompletionClient:
        if self._shared is not None:
            return LentClient(self._shared)
        return ChatCompletionClient.load_component(self._config)

    async def aclose(self) -> None:
        if self._shared is not None:
            await self._shared.close()


async def model_factory(config: dict[str, Any]) -> ModelSource:
    """The model factory of ``config``, loaded once now so that a bad config fails at start."""
    try:
        probe = ChatCompletionClient.load_component(config)
    except Exception as exc:
        raise ModelConfigError(f"the model config cannot be loaded: {_first_line(exc)}") from exc
    if str(config.get("provider")) in STATEFUL_PROVIDERS:
        await probe.close()
        return ModelSource(config, None)
    return ModelSource(config, probe)


def openai_config(api_key: str, model: str = DEFAULT_MODEL) -> dict[str, Any]:
    return {
        "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "config": {"model": model, "api_key": api_key},
    }


def replay_config(answers: list[str]) -> dict[str, Any]:
    """A model that replays ``answers`` in order: offline, for the demo and tests."""
    return {
        "provider": "autogen_ext.models.replay.ReplayChatCompletionClient",
        "config": {"chat_completions": answers},
    }


def demo_config() -> dict[str, Any]:
    """The scripted model of ``approval-bot demo``: a first draft, then a revision for every later turn."""
    return replay_config([DEMO_DRAFTS[0]] + [DEMO_DRAFTS[1]] * 20)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
