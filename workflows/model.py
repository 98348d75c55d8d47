"""Where the model comes from: an AutoGen component config, OpenAI by default, or a scripted demo model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from autogen_core.models import ChatCompletionClient

from workflows.lending import LentClient
from workflows.types import ROLES

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
    if not isinstance(config, dict) or ("provider" not in config and "default" not in config):
        raise ModelConfigError(
            f"MODEL_CONFIG {path} is neither an AutoGen component config (no 'provider' key) nor a mapping of"
            " roles to component configs (no 'default' key)"
        )
    return config


PROVIDER_EXTRAS = ("anthropic", "ollama", "azure", "gemini")
"""The package's extras that install a provider's client library (``pip install 'slack-approval-bot[ollama]'``)."""

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
    except ImportError as exc:  # a provider whose client library is an optional extra
        extra = next((e for e in PROVIDER_EXTRAS if f".{e}" in str(config.get("provider"))), None)
        hint = f"; install it with pip install 'slack-approval-bot[{extra}]'" if extra else ""
        raise ModelConfigError(f"the model config cannot be loaded: {_first_line(exc)}{hint}") from exc
    except Exception as exc:
        raise ModelConfigError(f"the model config cannot be loaded: {_first_line(exc)}") from exc
    if str(config.get("provider")) in STATEFUL_PROVIDERS:
        await probe.close()
        return ModelSource(config, None)
    return ModelSource(config, probe)


class RoleModels:
    """Each role's model: one ``ModelSource`` for every role, or a source per role named in ``MODEL_CONFIG``
    (``default`` for the rest)."""

    def __init__(self, sources: dict[str, ModelSource]) -> None:
        self._sources = sources

    def __call__(self, role: str) -> ModelSource:
        return self._sources.get(role) or self._sources["default"]

    async def aclose(self) -> None:
        for source in self._sources.values():
            await source.aclose()


async def load_models(config: dict[str, Any]) -> RoleModels:
    """``config`` is one component config for every role, or ``{"default": ..., "<role>": ...}``; every config
    is loaded now, so a bad one fails at start with one line naming its role."""
    if "provider" in config:
        return RoleModels({"default": await model_factory(config)})
    if "default" not in config:
        raise ModelConfigError("MODEL_CONFIG maps roles to models but has no 'default' key (for the other roles)")
    if unknown := sorted(set(config) - {"default", *ROLES}):
        raise ModelConfigError(f"MODEL_CONFIG names an unknown role '{unknown[0]}' (roles: {', '.join(ROLES)})")
    sources: dict[str, ModelSource] = {}
    try:
        for role, role_config in config.items():
            if not isinstance(role_config, dict) or "provider" not in role_config:
                raise ModelConfigError(f"MODEL_CONFIG role '{role}' is not an AutoGen component config")
            try:
                sources[role] = await model_factory(role_config)
            except ModelConfigError as exc:
                raise ModelConfigError(f"MODEL_CONFIG role '{role}': {exc}") from exc
    except BaseException:
        for source in sources.values():
            await source.aclose()
        raise
    return RoleModels(sources)


def openai_config(api_key: str, model: str = DEFAULT_MODEL) -> dict[str, Any]:
    return {
        "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "config": {"model": model, "api_key": api_key},
    }


def replay_config(answers: list[Any]) -> dict[str, Any]:
    """A model that replays ``answers`` in order: offline, for the demo and tests."""
    return {
        "provider": "autogen_ext.models.replay.ReplayChatCompletionClient",
        "config": {"chat_completions": answers},
    }


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
