"""The scripted model endpoint, driven by AutoGen's real OpenAIChatCompletionClient loaded as the bot loads it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, ChatCompletionClient, LLMMessage, SystemMessage, UserMessage

from bot.sandbox import SlackEmulator
from tests.botprocess import BotProcess
from tests.model_server import ModelServer, answers
from workflows.draft import DraftWorkflow
from workflows.types import Verdict

REPLIES = ["first draft", "second draft", "third draft"]
NO_REDIS = "redis://127.0.0.1:1/0"  # the bots here are never started
TASK = UserMessage(content="Draft the launch email", source="user")


@pytest.fixture
async def model() -> AsyncIterator[ModelServer]:
    async with ModelServer() as server:
        yield server


def bot_config(slack: SlackEmulator, workdir: Path, model: ModelServer, replies: list[str]) -> dict[str, Any]:
    """The MODEL_CONFIG that BotProcess writes for ``replies``, read back from the file the bot is given."""
    config: dict[str, Any] = json.loads(
        written_config(BotProcess(slack, NO_REDIS, workdir, answers=replies, model=model))
    )
    return config


def written_config(bot: BotProcess) -> str:
    return Path(bot.env["MODEL_CONFIG"]).read_text()


async def ask(config: dict[str, Any], messages: list[LLMMessage]) -> str:
    """One completion through a client loaded from ``config``, as ``workflows.model`` loads it."""
    client = ChatCompletionClient.load_component(config)
    try:
        result = await client.create(messages)
    finally:
        await client.close()
    assert result.finish_reason == "stop"
    assert isinstance(result.content, str)
    return result.content


def conversation(assistant_turns: int) -> list[LLMMessage]:
    messages: list[LLMMessage] = [SystemMessage(content="You draft."), TASK]
    for turn in range(assistant_turns):
        messages.append(AssistantMessage(content=f"draft {turn}", source="drafter"))
        messages.append(UserMessage(content="REVISE: shorter", source="approver"))
    return messages


async def test_the_openai_client_gets_the_scripted_reply(
    slack: SlackEmulator, tmp_path: Path, model: ModelServer
) -> None:
    config = bot_config(slack, tmp_path, model, REPLIES)

    assert await ask(config, conversation(0)) == "first draft"

    [request] = model.requests
    assert request.status == 200 and request.reply == "first draft"
    assert request.model == config["config"]["model"]
    assert request.body["stream"] is False
    assert [message["role"] for message in request.messages] == ["system", "user"]
    assert request.messages[1]["content"] == "Draft the launch email"


async def test_the_reply_is_the_one_for_the_number_of_assistant_turns_so_far(
    slack: SlackEmulator, tmp_path: Path, model: ModelServer
) -> None:
    config = bot_config(slack, tmp_path, model, REPLIES)

    replies = [await ask(config, conversation(turns)) for turns in (2, 0, 1, 5)]

    assert replies == ["third draft", "first draft", "second draft", "third draft"]  # 5 turns: the last reply


async def test_a_restarted_client_asking_the_same_conversation_gets_the_same_reply(
    slack: SlackEmulator, tmp_path_factory: pytest.TempPathFactory, model: ModelServer
) -> None:
    before = bot_config(slack, tmp_path_factory.mktemp("before"), model, REPLIES)
    first = await ask(before, conversation(1))
    after = bot_config(slack, tmp_path_factory.mktemp("after"), model, list(REPLIES))  # a new process, same replies

    assert after == before
    assert await ask(after, conversation(1)) == first == "second draft"
    other = bot_config(slack, tmp_path_factory.mktemp("other"), model, ["something else"])
    assert other["config"]["model"] != before["config"]["model"]
    assert await ask(other, conversation(1)) == "something else"


async def test_an_unknown_model_is_an_openai_404_that_the_client_raises(model: ModelServer) -> None:
    config = model.config("gpt-nobody-serves")

    with pytest.raises(openai.NotFoundError) as raised:
        await ask(config, conversation(0))

    assert raised.value.status_code == 404 and raised.value.code == "model_not_found"
    assert "gpt-nobody-serves" in raised.value.message
    assert [(request.model, request.status) for request in model.requests] == [("gpt-nobody-serves", 404)]


async def test_the_draft_workflow_revises_through_the_openai_client(model: ModelServer) -> None:
    name = model.add_answers(REPLIES)
    verdicts = iter(["REVISE: shorter please", "APPROVE"])
    shown: list[str] = []

    async def human(prompt: str, token: CancellationToken | None) -> str:
        shown.append(prompt)
        return next(verdicts)

    workflow = DraftWorkflow(model=lambda: ChatCompletionClient.load_component(model.config(name)))
    result = await workflow.run("Draft the launch email", human)

    assert result.verdict is Verdict.APPROVE and result.output == "second draft" and result.revisions == 1
    assert shown == ["first draft", "second draft"]
    first, second_request = await model.wait_requests(2)
    second = second_request.messages
    assert first.messages == second[:2]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "first draft" and second[3]["content"] == "REVISE: shorter please"


@pytest.mark.parametrize(
    ("headers", "body", "status", "param"),
    [
        ({}, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, 401, None),
        ({"Authorization": "Bearer sk-x"}, "{not json", 400, None),
        ({"Authorization": "Bearer sk-x"}, {"messages": [{"role": "user", "content": "hi"}]}, 400, "model"),
        ({"Authorization": "Bearer sk-x"}, {"model": "m", "messages": []}, 400, "messages"),
        (
            {"Authorization": "Bearer sk-x"},
            {"model": "m", "messages": [{"role": "user"}], "stream": True},
            400,
            "stream",
        ),
    ],
)
async def test_bad_requests_get_openai_shaped_errors(
    model: ModelServer, headers: dict[str, str], body: Any, status: int, param: str | None
) -> None:
    model.add("m", answers(["never"]))
    data = body if isinstance(body, str) else json.dumps(body)

    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{model.base_url}/chat/completions", data=data, headers=headers) as response,
    ):
        answer = await response.json()

    assert response.status == status
    assert set(answer) == {"error"} and answer["error"]["message"] and answer["error"]["type"]
    assert answer["error"]["param"] == param
    assert [request.reply for request in model.requests] == [None]


async def test_the_bot_gets_no_openai_key_from_the_parent(
    slack: SlackEmulator, tmp_path: Path, model: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-of-the-developer")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")

    bot = BotProcess(slack, NO_REDIS, tmp_path, answers=REPLIES, model=model)

    assert not [key for key in bot.env if key.startswith("OPENAI_")]
    assert "sk-real-key-of-the-developer" not in written_config(bot)
    assert bot_config(slack, tmp_path, model, REPLIES)["config"]["base_url"] == model.base_url
