"""A process loads a stateless model client once and lends it to every run; a replayed model is per run."""

from __future__ import annotations

from autogen_core.models import UserMessage

from tests.model_server import ModelServer
from workflows.model import model_factory, replay_config

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
