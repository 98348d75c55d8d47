"""A process loads a stateless model client once and lends it to every run; a replayed model is per run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from autogen_core.models import UserMessage

from tests.model_server import ModelServer
from workflows.model import ModelConfigError, component_config, load_models, model_factory, replay_config

HELLO = [UserMessage(content="hello", source="user")]


async def test_runs_borrow_one_client_and_closing_a_loan_leaves_it_working() -> None:
    async with ModelServer() as server:
        model = await model_factory(server.config(server.add_answers(["first", "second"])))
        one, two = model(), model()
        assert (await one.create(HELLO)).content == "first"
        await one.close()  # a run ending closes what it was lent

        assert (await two.create(HELLO)).content == "first"  # the shared client still answers
        assert one.total_usage().completion_tokens == 2  # both runs' calls went through the one client
        await model.aclose()


async def test_a_replayed_model_starts_from_its_first_answer_in_every_run() -> None:
    model = await model_factory(replay_config(["draft one", "draft two"]))
    first, second = model(), model()
    assert (await first.create(HELLO)).content == "draft one"
    assert (await second.create(HELLO)).content == "draft one"
    await first.close()
    await second.close()
    await model.aclose()


async def test_each_role_gets_its_own_model_and_the_rest_the_default() -> None:
    async with ModelServer() as server:
        default, drafter = server.add_answers(["from the default"]), server.add_answers(["from the drafter"])
        models = await load_models({"default": server.config(default), "draft.drafter": server.config(drafter)})
        assert (await models("draft.drafter")().create(HELLO)).content == "from the drafter"
        assert (await models("ops.assistant")().create(HELLO)).content == "from the default"
        await models.aclose()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"draft.drafter": replay_config(["x"])}, "has no 'default' key"),
        ({"default": replay_config(["x"]), "drafter": replay_config(["x"])}, "unknown role 'drafter' (roles: draft"),
        ({"default": replay_config(["x"]), "ops.assistant": {"model": "gpt"}}, "role 'ops.assistant' is not an"),
        ({"default": {"provider": "no.such.Client", "config": {}}}, "MODEL_CONFIG role 'default': the model config"),
    ],
)
async def test_a_bad_role_mapping_is_one_line_naming_the_role(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelConfigError, match=re.escape(message)):
        await load_models(config)


def test_model_config_may_be_a_role_mapping(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("default:\n  provider: a.B\n  config: {}\nplan.planner:\n  provider: c.D\n  config: {}\n")
    assert set(component_config(path)) == {"default", "plan.planner"}
    path.write_text("model: gpt-4o\n")
    with pytest.raises(ModelConfigError, match="neither an AutoGen component config"):
        component_config(path)


async def test_a_provider_whose_library_is_missing_names_the_extra_that_installs_it() -> None:
    pytest.importorskip("autogen_ext.models.openai")
    if importlib.util.find_spec("ollama") is not None:
        pytest.skip("the ollama client library is installed here")
    config = {"provider": "autogen_ext.models.ollama.OllamaChatCompletionClient", "config": {"model": "llama3.2"}}

    with pytest.raises(ModelConfigError) as raised:
        await load_models(config)

    message = str(raised.value)
    assert "\n" not in message and "ollama" in message and "pip install 'slack-approval-bot[ollama]'" in message
